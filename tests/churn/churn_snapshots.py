"""Public-style churn snapshots, generated (no internet at test time), and plain baselines.

Each generator returns ``(X, y)``: a DataFrame of one row per customer and 0/1 churn labels,
shaped like a well-known public churn table, with a known true model:

``telco``
    Like the IBM Telco table (7,043 customers, 26% churn): contract, internet service,
    payment method and Yes/No columns as strings, tenure and charges, blank total charges
    for new customers. True model: linear-logistic in the raw features and the categories.
``mobile``
    Like the BigML / Orange mobile table (3,333 customers, 14% churn): minutes, calls and
    customer-service calls (small counts with a linear effect per call), two plans.
    True model: linear-logistic in the raw counts, so ``log1p`` misfits the call counts.
``rfm``
    Recency / frequency / monetary of an online shop, heavy-tailed. True model:
    linear-logistic in ``log1p`` of the features.
``interactions``
    Thresholds and a product of features: no linear model fits it; boosting does.

The baselines are what a user fits in three lines: scaled logistic regression with one-hot
categories, and scikit-learn's histogram gradient boosting with one-hot categories.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def _bernoulli(rng: np.random.Generator, logit: np.ndarray) -> np.ndarray:
    return (rng.random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def _yes(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, "Yes", "No")


def telco(n: int = 7043, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Telco-like: categorical columns as strings; linear-logistic truth in raw features."""
    rng = np.random.default_rng(seed)
    tenure = np.clip(np.round(72 * rng.beta(0.7, 0.7, n)), 0, 72).astype(np.int64)
    p2 = np.clip(tenure / 72, 0.02, 0.98)
    u = rng.random(n)
    contract = np.where(
        u < 0.75 * (1 - p2), "Month-to-month", np.where(u < 0.75 - 0.3 * p2, "One year", "Two year")
    )
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.34, 0.44, 0.22])
    payment = rng.choice(
        [
            "Electronic check",
            "Mailed check",
            "Bank transfer (automatic)",
            "Credit card (automatic)",
        ],
        n,
        p=[0.34, 0.23, 0.22, 0.21],
    )
    paperless, senior = rng.random(n) < 0.59, rng.random(n) < 0.16
    partner = rng.random(n) < 0.48
    base = np.select([internet == "No", internet == "DSL"], [21.0, 58.0], 90.0)
    monthly = np.round(base + rng.normal(0, 9, n), 2)
    total = np.round(tenure * monthly * rng.normal(1, 0.05, n), 2)
    total[tenure == 0] = np.nan  # the blank TotalCharges of new customers
    logit = (
        -0.05
        - 0.035 * tenure
        + np.select([contract == "One year", contract == "Two year"], [-0.9, -1.8], 0.0)
        + np.select([internet == "Fiber optic", internet == "No"], [0.7, -0.6], 0.0)
        + 0.45 * (payment == "Electronic check")
        + 0.3 * paperless
        + 0.25 * senior
        - 0.15 * partner
        + 0.012 * (monthly - 65)
    )
    X = pd.DataFrame(
        {
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": senior.astype(np.int64),
            "Partner": _yes(partner),
            "tenure": tenure,
            "Contract": contract,
            "InternetService": internet,
            "PaperlessBilling": _yes(paperless),
            "PaymentMethod": payment,
            "MonthlyCharges": monthly,
            "TotalCharges": total,
        }
    )
    return X, _bernoulli(rng, logit)


def mobile(n: int = 3333, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Mobile-like: minutes and call counts; linear-logistic truth in the raw counts."""
    rng = np.random.default_rng(seed)
    intl_plan, vmail_plan = rng.random(n) < 0.1, rng.random(n) < 0.28
    vmail = np.where(vmail_plan, rng.poisson(29, n), 0)
    day = np.clip(rng.normal(180, 54, n), 0, None)
    eve = np.clip(rng.normal(200, 50, n), 0, None)
    intl = np.clip(rng.normal(10, 2.8, n), 0, None)
    service = rng.poisson(1.56, n)
    logit = (
        -3.25
        + 0.55 * service
        + 0.013 * (day - 180)
        + 0.006 * (eve - 200)
        + 0.09 * (intl - 10)
        + 1.9 * intl_plan
        - 0.03 * vmail
    )
    X = pd.DataFrame(
        {
            "account_length": rng.integers(1, 240, n),
            "international_plan": _yes(intl_plan),
            "voice_mail_plan": _yes(vmail_plan),
            "number_vmail_messages": vmail,
            "total_day_minutes": day.round(1),
            "total_day_calls": rng.poisson(100, n),
            "total_eve_minutes": eve.round(1),
            "total_intl_minutes": intl.round(1),
            "total_intl_calls": rng.poisson(4.5, n),
            "customer_service_calls": service,
        }
    )
    return X, _bernoulli(rng, logit)


def rfm(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Recency / frequency / monetary, heavy-tailed; linear-logistic truth in log1p."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(60, n).round()
    frequency = np.floor(rng.lognormal(1.0, 1.0, n)) + 1
    monetary = rng.lognormal(3.5, 1.2, n) * frequency
    tenure = recency + rng.exponential(300, n).round()
    logit = (
        -1.0
        + 0.9 * (np.log1p(recency) - 3.5)
        - 0.9 * (np.log1p(frequency) - 1.3)
        - 0.35 * (np.log1p(monetary) - 4.8)
        + 0.2 * (np.log1p(tenure) - 5.7)
    )
    X = pd.DataFrame({"recency": recency, "frequency": frequency, "tenure": tenure})
    X.insert(2, "monetary", monetary.round(2))
    return X, _bernoulli(rng, logit)


def interactions(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Thresholds and a product of features: only a non-linear model ranks well."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 6))
    logit = (
        -1.2
        + 2.2 * ((Z[:, 0] > 0.5) & (Z[:, 1] < 0))
        + 1.3 * Z[:, 2] * Z[:, 3]
        + 1.2 * (np.abs(Z[:, 4]) > 1.2)
        + 0.3 * Z[:, 5]
    )
    X = pd.DataFrame(Z, columns=[f"x{i}" for i in range(6)])
    return X, _bernoulli(rng, logit)


SNAPSHOTS: dict[str, Callable[..., tuple[pd.DataFrame, np.ndarray]]] = {
    "telco": telco,
    "mobile": mobile,
    "rfm": rfm,
    "interactions": interactions,
}


def plain_logistic() -> object:
    """Scaled logistic regression with one-hot categories (medians for missing numbers)."""
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    enc = make_column_transformer(
        (numeric, make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
    )
    return make_pipeline(enc, LogisticRegression(max_iter=1000))


def plain_boosting(seed: int = 0) -> object:
    """Histogram gradient boosting; string columns one-hot encoded."""
    enc = make_column_transformer(
        (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
    )
    return make_pipeline(enc, HistGradientBoostingClassifier(random_state=seed))
