"""Features at a cutoff T, built only from rows on or before T (no leakage), vectorised.

Every feature is computed with sorting, ``np.bincount`` and ``ufunc.reduceat`` over the whole
log at once: no Python loop over customers. Rows after T are dropped before anything else,
so changing data after T cannot change a feature (a test checks it).

Features (days are calendar days or simulator days)
---------------------------------------------------
recency, tenure
    Days since the last and since the first purchase.
frequency, visits
    Purchases, and distinct purchase days.
monetary, avg_visit_value, max_order, last_visit_value
    Total spend, spend per purchase day, the largest order, spend on the last purchase day.
ipt_mean, ipt_std, ipt_max, overdue
    Inter-purchase times (between purchase days): mean, std, max; ``overdue`` = recency /
    mean inter-purchase time (NaN with one purchase day).
rate_30d
    Purchase days per 30 days of tenure.
visits_{w}d, spend_{w}d
    Purchase days and spend in the last ``w`` days, for each window.
trend
    (visits in the last w - visits in the w before) / (both + 1), w = the middle window.
stage, days_in_stage, moves, past_churns (when an event log with stages is given)
    Stage at T (the last stage entered on or before T), days since entering it, stage moves
    and churn events so far.
exp_{cause}, exposures_30d (when events carry a cause)
    Events caused by each cause (tactic exposures) up to T, and non-organic ones in the
    last 30 days.
satisfaction_last, satisfaction_mean (when a satisfaction column exists)
channel_last (when a channel column exists)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lifesim.churn.labels import ChurnDefinition, define, label_customers
from lifesim.churn.schema import TransactionLog

__all__ = ["FeatureSpec", "ChurnDataset", "build_features", "build_dataset", "FEATURE_DOCS"]

FEATURE_DOCS = __doc__
_MAX_CAUSES = 12


@dataclass(frozen=True)
class FeatureSpec:
    """What features to build; fixed at training time and reused at scoring time.

    Parameters
    ----------
    windows : tuple of int
        Look-back windows in days for recent activity.
    stages : tuple of str or None
        Stage categories (``None``: no stage features).
    causes : tuple of str or None
        Causes counted as exposures (``None``: no exposure features).
    channels : tuple of str or None
        Channel categories (``None``: no channel feature).
    satisfaction : bool
        Whether to build satisfaction features.
    """

    windows: tuple[int, ...] = (30, 90, 180, 365)
    stages: tuple[str, ...] | None = None
    causes: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    satisfaction: bool = False

    @classmethod
    def from_log(
        cls,
        log: TransactionLog,
        cutoff_day: int | None = None,
        windows: tuple[int, ...] = (30, 90, 180, 365),
    ) -> FeatureSpec:
        """Use every optional feature the log supports.

        Parameters
        ----------
        log : TransactionLog
        cutoff_day : int, optional
            Only events up to this day choose the most frequent causes (no leakage).
        windows : tuple of int
        """
        causes = None
        if log.ev_cause is not None:
            cats = log.categories["ev_cause"]
            ok = log.ev_cause >= 0
            if cutoff_day is not None:
                ok &= log.ev_day <= cutoff_day
            counts = np.bincount(log.ev_cause[ok], minlength=len(cats))
            top = np.argsort(-counts, kind="stable")[:_MAX_CAUSES]
            causes = tuple(cats[i] for i in sorted(top) if counts[i] > 0)
        return cls(
            windows=tuple(int(w) for w in windows),
            stages=log.categories.get("stage") if log.ev_stage is not None else None,
            causes=causes,
            channels=log.categories.get("channel"),
            satisfaction="satisfaction" in log.extras or log.ev_satisfaction is not None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored beside a saved model)."""
        return {
            "windows": list(self.windows),
            "stages": None if self.stages is None else list(self.stages),
            "causes": None if self.causes is None else list(self.causes),
            "channels": None if self.channels is None else list(self.channels),
            "satisfaction": self.satisfaction,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`."""
        tup = lambda v: None if v is None else tuple(v)  # noqa: E731
        return cls(
            windows=tuple(int(w) for w in d["windows"]),
            stages=tup(d.get("stages")),
            causes=tup(d.get("causes")),
            channels=tup(d.get("channels")),
            satisfaction=bool(d.get("satisfaction", False)),
        )


@dataclass(frozen=True, eq=False)
class ChurnDataset:
    """Features (and labels) of the customers at risk at one cutoff.

    Attributes
    ----------
    X : DataFrame
        One row per customer at risk (index: customer id), one column per feature.
    y : Series or None
        1 = churned, 0 = stayed (``None`` when scoring).
    definition : ChurnDefinition or None
        ``None`` in snapshot mode (the table's label defines churn).
    spec : FeatureSpec
    """

    X: pd.DataFrame
    y: pd.Series | None
    definition: ChurnDefinition | None
    spec: FeatureSpec = field(default_factory=FeatureSpec)

    @property
    def n_customers(self) -> int:
        """Customers at risk."""
        return len(self.X)

    @property
    def churn_rate(self) -> float:
        """Share of churners (NaN without labels)."""
        return float("nan") if self.y is None else float(self.y.mean())

    def to_dict(self) -> dict[str, Any]:
        """Size, churn rate, features and definition (JSON-able)."""
        return {
            "n_customers": self.n_customers,
            "n_features": int(self.X.shape[1]),
            "features": [str(c) for c in self.X.columns],
            "churn_rate": None if self.y is None else self.churn_rate,
            "definition": None if self.definition is None else self.definition.to_dict(),
        }

    def to_pandas(self) -> pd.DataFrame:
        """Features and the label in one frame."""
        out = self.X.copy()
        if self.y is not None:
            out["churned"] = self.y
        return out

    def summary(self) -> str:
        """One-paragraph description."""
        rate = "" if self.y is None else f", churn rate {self.churn_rate:.1%}"
        text = (
            self.definition.describe()
            if self.definition is not None
            else "snapshot: churn as given by the label column"
        )
        return f"{self.n_customers:,} customers x {self.X.shape[1]} features{rate}\n{text}"

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(self.summary())}</p>" + self.to_pandas().head(10).to_html()


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in a sorted array."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _sort_by_customer_day(cust: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Stable order by (customer, day), keeping input order within a day."""
    span = int(day.max() - day.min()) + 1 if len(day) else 1
    key = cust * span + (day - (day.min() if len(day) else 0))
    return np.argsort(key, kind="stable")


def _purchase_features(log: TransactionLog, t: int, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """RFM, inter-purchase times and windows, for every customer (NaN/0 if none)."""
    n = len(log.customers)
    m = log.day <= t
    c, d, a = log.cust[m], log.day[m], log.amount[m]
    order = _sort_by_customer_day(c, d)
    c, d, a = c[order], d[order], a[order]
    starts = _group_starts(c)
    who = c[starts]
    ends = np.r_[starts[1:], len(c)] - 1
    f: dict[str, np.ndarray] = {}

    def put(values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        out = np.full(n, fill, dtype=np.float64)
        out[who] = values
        return out

    f["recency"] = put(t - d[ends])
    f["tenure"] = put(t - d[starts])
    f["frequency"] = np.bincount(c, minlength=n).astype(np.float64)
    f["monetary"] = np.bincount(c, weights=a, minlength=n)
    f["max_order"] = put(np.maximum.reduceat(a, starts) if len(a) else a)
    # distinct purchase days ("visits")
    new_visit = np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])] if len(c) else np.zeros(0, bool)
    vstart = np.flatnonzero(new_visit)
    vc, vd = c[vstart], d[vstart]
    vamt = np.add.reduceat(a, vstart) if len(a) else a
    visits = np.bincount(vc, minlength=n).astype(np.float64)
    f["visits"] = visits
    with np.errstate(invalid="ignore", divide="ignore"):
        f["avg_visit_value"] = np.where(visits > 0, f["monetary"] / visits, np.nan)
    vstarts = _group_starts(vc)
    vends = np.r_[vstarts[1:], len(vc)] - 1
    f["last_visit_value"] = put(vamt[vends])
    gaps = np.r_[0, np.diff(vd)].astype(np.float64) if len(vd) else vd.astype(np.float64)
    gaps[vstarts] = 0.0
    gsum = np.add.reduceat(gaps, vstarts) if len(gaps) else gaps
    gsq = np.add.reduceat(gaps**2, vstarts) if len(gaps) else gaps
    gmax = np.maximum.reduceat(gaps, vstarts) if len(gaps) else gaps
    ngap = visits[vc[vstarts]] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ngap > 0, gsum / ngap, np.nan)
        var = np.where(ngap > 1, (gsq - ngap * mean**2) / (ngap - 1), np.nan)
        f["ipt_mean"] = put(mean)
        f["ipt_std"] = put(np.sqrt(np.clip(var, 0, None)))
        f["ipt_max"] = put(np.where(ngap > 0, gmax, np.nan))
        f["overdue"] = f["recency"] / f["ipt_mean"]
        f["rate_30d"] = 30.0 * visits / (f["tenure"] + 1.0)
    for w in spec.windows:
        recent = vd > t - w
        f[f"visits_{w}d"] = np.bincount(vc[recent], minlength=n).astype(np.float64)
        f[f"spend_{w}d"] = np.bincount(vc[recent], weights=vamt[recent], minlength=n)
    if spec.windows:
        w = sorted(spec.windows)[len(spec.windows) // 2]
        prev = (vd > t - 2 * w) & (vd <= t - w)
        before = np.bincount(vc[prev], minlength=n)
        now = f[f"visits_{w}d"]
        f["trend"] = (now - before) / (now + before + 1.0)
    if spec.channels is not None and "channel" in log.extras:
        ch = log.extras["channel"][m][order]
        f["channel_last"] = _recode(ch[ends], log.categories["channel"], spec.channels, who, n)
    if spec.satisfaction and "satisfaction" in log.extras:
        s = log.extras["satisfaction"][m][order]
        f.update(_last_and_mean(c, s, n, "satisfaction"))
    return f


def _recode(codes, cats, wanted, who, n) -> np.ndarray:
    """Map codes from the log's categories to the spec's (unknown: -1), customers -> n."""
    lut = np.array([wanted.index(x) if x in wanted else -1 for x in cats] + [-1], dtype=np.int64)
    out = np.full(n, -1, dtype=np.int64)
    out[who] = lut[codes]
    return out


def _last_and_mean(c: np.ndarray, s: np.ndarray, n: int, name: str) -> dict[str, np.ndarray]:
    """Last and mean non-missing value per customer, ``c`` sorted by (customer, time)."""
    ok = ~np.isnan(s)
    c, s = c[ok], s[ok]
    cnt = np.bincount(c, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(c, weights=s, minlength=n) / cnt
    last = np.full(n, np.nan)
    last[c] = s  # later rows overwrite earlier: the last value wins
    return {f"{name}_last": last, f"{name}_mean": np.where(cnt > 0, mean, np.nan)}


def _event_features(log: TransactionLog, t: int, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Stage at T, time in stage, moves, past churns, exposures, satisfaction from events."""
    n = len(log.customers)
    f: dict[str, np.ndarray] = {}
    m = log.ev_day <= t
    c, d = log.ev_cust[m], log.ev_day[m]
    order = _sort_by_customer_day(c, d)
    c, d = c[order], d[order]
    if spec.stages is not None:
        st = log.ev_stage[m][order] if log.ev_stage is not None else np.full(len(c), -1)
        has = st >= 0
        cs, ds, sts = c[has], d[has], st[has]
        starts = _group_starts(cs)
        ends = np.r_[starts[1:], len(cs)] - 1
        who = cs[ends] if len(cs) else cs
        f["stage"] = _recode(sts[ends], log.categories.get("stage", ()), spec.stages, who, n)
        dis = np.full(n, np.nan)
        dis[who] = t - ds[ends]
        f["days_in_stage"] = dis
        f["moves"] = np.bincount(cs, minlength=n).astype(np.float64)
        f["past_churns"] = np.bincount(c[log.ev_churn[m][order]], minlength=n).astype(np.float64)
    if spec.causes is not None:
        cats = log.categories.get("ev_cause", ())
        cause = log.ev_cause[m][order] if log.ev_cause is not None else np.full(len(c), -1)
        lut = np.array([spec.causes.index(x) if x in spec.causes else -1 for x in cats] + [-1])
        k = lut[cause]
        ok = k >= 0
        counts = np.zeros((n, len(spec.causes)))
        if ok.any():
            flat = np.bincount(c[ok] * len(spec.causes) + k[ok], minlength=n * len(spec.causes))
            counts = flat.reshape(n, len(spec.causes)).astype(np.float64)
        for j, name in enumerate(spec.causes):
            f[f"exp_{name}"] = counts[:, j]
        organic = spec.causes.index("organic") if "organic" in spec.causes else -2
        paid = ok & (k != organic)  # exposures: events with a tactic as their cause
        f["exposures_30d"] = np.bincount(c[paid & (d > t - 30)], minlength=n).astype(np.float64)
    if spec.satisfaction and log.ev_satisfaction is not None:
        f.update(_last_and_mean(c, log.ev_satisfaction[m][order], n, "ev_satisfaction"))
    return f


def _frame(log: TransactionLog, rows: np.ndarray, feats: dict, spec: FeatureSpec) -> pd.DataFrame:
    cols: dict[str, Any] = {}
    for k, v in feats.items():
        v = v[rows]
        if k == "stage":
            cols[k] = pd.Categorical.from_codes(v, categories=list(spec.stages or ()))
        elif k == "channel_last":
            cols[k] = pd.Categorical.from_codes(v, categories=list(spec.channels or ()))
        else:
            cols[k] = v
    return pd.DataFrame(cols, index=log.customers[rows], copy=False)


def build_features(
    log: TransactionLog,
    cutoff: Any,
    *,
    horizon_days: int | None = None,
    spec: FeatureSpec | None = None,
    mode: str = "non-contractual",
) -> ChurnDataset:
    """Features of the customers at risk at ``cutoff``, and their labels if ``horizon_days``.

    Parameters
    ----------
    log : TransactionLog
        From :func:`lifesim.churn.prepare`.
    cutoff : date, str or int
        T. Only rows on or before T are read.
    horizon_days : int, optional
        Outcome window; ``None`` (scoring): no labels, and T may be the last day of the log.
    spec : FeatureSpec, optional
        Which features (default: all the log supports). Pass a trained model's spec when
        scoring so that the columns match.
    mode : {"non-contractual", "contractual"}
        Churn definition (see :mod:`lifesim.churn.labels`).

    Returns
    -------
    ChurnDataset

    Raises
    ------
    DataError
        If the cutoff or horizon does not fit the data (see :func:`~lifesim.churn.define`).
    """
    definition = define(log, cutoff, horizon_days, mode=mode)
    spec = spec or FeatureSpec.from_log(log, definition.cutoff_day)
    rows, y = label_customers(log, definition)
    t = definition.cutoff_day
    feats = _purchase_features(log, t, spec)
    if spec.stages is not None or spec.causes is not None or spec.satisfaction:
        feats.update(_event_features(log, t, spec))
    X = _frame(log, rows, feats, spec)
    ys = None if y is None else pd.Series(y, index=X.index, name="churned")
    return ChurnDataset(X=X, y=ys, definition=definition, spec=spec)


def build_dataset(log: TransactionLog, cutoff: Any, horizon_days: int, **kwargs) -> ChurnDataset:
    """Labelled dataset at ``cutoff``: :func:`build_features` with a required horizon."""
    return build_features(log, cutoff, horizon_days=horizon_days, **kwargs)
