import numpy as np
import pandas as pd
import pytest

from lifesim.churn import read_snapshot
from lifesim.errors import DataError


def _telco():
    return pd.DataFrame(
        {
            "customerID": ["A", "B", "C", "D"],
            "tenure": [1, 30, 0, 60],
            "Contract": ["Month-to-month", "One year", "Month-to-month", "Two year"],
            "TotalCharges": ["29.85", "1889.5", " ", "4000"],
            "Churn": ["Yes", "No", "yes", "NO"],
        }
    )


def test_labels_ids_and_types():
    ds = read_snapshot(_telco(), label="Churn", id="customerID")
    assert ds.y.tolist() == [1, 0, 1, 0] and list(ds.X.index) == ["A", "B", "C", "D"]
    assert ds.X["TotalCharges"].dtype == np.float64 and np.isnan(ds.X.loc["C", "TotalCharges"])
    assert isinstance(ds.X["Contract"].dtype, pd.CategoricalDtype)
    assert ds.definition is None and "snapshot" in ds.summary()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 1, 0], [0, 1, 1, 0]),
        ([True, False, True, False], [1, 0, 1, 0]),
        (["1.0", "0.0", "1.0", "0.0"], [1, 0, 1, 0]),
    ],
)
def test_label_encodings(values, expected):
    assert read_snapshot(_telco().assign(Churn=values), label="Churn").y.tolist() == expected


def test_positive_value_and_refusals():
    df = _telco().assign(Churn=["left", "stayed", "left", "stayed"])
    with pytest.raises(DataError, match=r"cannot tell churned from stayed.*'left'.*--positive"):
        read_snapshot(df, label="Churn")
    assert read_snapshot(df, label="Churn", positive="left").y.tolist() == [1, 0, 1, 0]
    with pytest.raises(DataError, match=r"--positive == 'gone' never occurs"):
        read_snapshot(df, label="Churn", positive="gone")
    with pytest.raises(DataError, match=r"--label 'churn': no such column"):
        read_snapshot(df, label="churn")
    with pytest.raises(DataError, match=r"--id 'customerID': 2 row\(s\) share an id.*'A'"):
        read_snapshot(df.assign(customerID=["A", "A", "B", "C"]), label="Churn", id="customerID")
