"""Arm labels with surrounding white space are one arm on every input, without stripping rows.

The labels are stripped after aggregating (polars: per-arm sums of the raw labels, added up
for labels that strip alike; pandas: the distinct labels of the arm codes). The expected
numbers are worked out by hand on six rows.
"""

import numpy as np
import pandas as pd
import pytest

from lifesim import ab
from lifesim.ab.io import Frame
from lifesim.errors import DataError

pl = pytest.importorskip("polars")

# arm A: y 1, 2, 3 and x 0, 1, 2; arm B (' B', 'B', ' B'): y 4, 8, 6 and x 1, 0, 1
ARMS = ["A", " B", "A", "B", "A", " B"]
Y = [1.0, 4.0, 2.0, 8.0, 3.0, 6.0]
X = [0.0, 1.0, 1.0, 0.0, 2.0, 1.0]
# by hand: means (y, x) and centred sums of squares / cross-products [[Syy, Syx], [Sxy, Sxx]]
MEAN = {"A": [2.0, 1.0], "B": [6.0, 2.0 / 3.0]}
COMOMENT = {"A": [[2.0, 2.0], [2.0, 2.0]], "B": [[8.0, -2.0], [-2.0, 2.0 / 3.0]]}
METRIC = ab.Mean("y", covariate="x")


def table(kind, arms, **cols):
    """The columns as the given kind of input (pandas object / arrow strings, polars)."""
    d = pd.DataFrame({"arm": pd.Series(arms, dtype=object), **cols})
    if kind == "pandas-object":
        return d
    if kind == "pandas-str":
        return d.astype({"arm": "string[pyarrow]"})
    return pl.from_pandas(d)


@pytest.fixture
def polars_aggregates(monkeypatch):
    """Fail if clean polars data leaves the polars aggregation (row-wise NumPy path)."""
    real = Frame.factorize

    def no_row_codes(self, name):
        assert not self.is_polars, "clean polars data must be aggregated by polars"
        return real(self, name)

    monkeypatch.setattr(Frame, "factorize", no_row_codes)


def check_hand_numbers(agg, arms=("A", "B")):
    assert agg.arms == arms
    mom = agg.moments[0]
    assert mom.columns == ("y", "x")
    for g, a in enumerate(arms):
        np.testing.assert_allclose(mom.mean[g], MEAN[a], rtol=1e-12)
        np.testing.assert_allclose(mom.comoment[g], COMOMENT[a], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["pandas-object", "pandas-str", "polars"])
def test_three_raw_labels_that_strip_to_two_arms(kind, request):
    if kind == "polars":
        request.getfixturevalue("polars_aggregates")
    agg = ab.aggregate(table(kind, ARMS, y=Y, x=X), arm="arm", metrics=[METRIC])
    assert agg.n == (3, 3)
    check_hand_numbers(agg)


def test_two_padded_labels_are_stripped_on_the_fast_polars_path(polars_aggregates):
    arms = [a.strip() + (" " if a.strip() == "A" else "\t") for a in ARMS]  # 'A ', 'B\t'
    agg = ab.aggregate(table("polars", arms, y=Y, x=X), arm="arm", metrics=[METRIC])
    assert agg.n == (3, 3)
    check_hand_numbers(agg)


def test_labels_b_and_padded_b_alone_are_one_arm(polars_aggregates):
    d = table("polars", [" B", "B", "B", " B"], y=[1.0, 2.0, 3.0, 6.0])
    agg = ab.aggregate(d, arm="arm", metrics=[ab.Mean("y")])
    assert agg.arms == ("B",) and agg.n == (4,)
    np.testing.assert_allclose(agg.moments[0].mean[0], [3.0], rtol=1e-12)
    np.testing.assert_allclose(agg.moments[0].comoment[0], [[14.0]], rtol=1e-12)  # 4+1+0+9


@pytest.mark.parametrize("kind", ["pandas-object", "pandas-str", "polars"])
def test_labels_differing_by_white_space_among_other_arms(kind):
    arms = ["A", "B", "B ", "C", " C ", "A", "B"]
    d = table(kind, arms, y=[1, 0, 1, 1, 1, 0, 0])
    agg = ab.aggregate(d, arm="arm", metrics=[ab.Proportion("y")])
    assert agg.arms == ("A", "B", "C") and agg.n == (2, 3, 2)
    np.testing.assert_allclose(agg.moments[0].mean[:, 0], [0.5, 1 / 3, 1.0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["pandas-object", "polars"])
def test_dropped_rows_with_padded_labels(kind, request):
    if kind == "polars":
        request.getfixturevalue("polars_aggregates")
    # two more rows with a missing y, one in each arm: dropped, the hand numbers stand
    d = table(kind, [*ARMS, "B ", " A"], y=[*Y, None, None], x=[*X, 5.0, 7.0])
    agg = ab.aggregate(d, arm="arm", metrics=[METRIC], dropna=True)
    assert agg.n == (4, 4) and agg.dropped == (2,)
    check_hand_numbers(agg)


@pytest.mark.parametrize("kind", ["pandas-str", "polars"])
def test_analysis_and_sequential_read_padded_labels_as_one_arm(kind):
    n = 40
    arms = [("A", " A", "B", "B ")[i % 4] for i in range(n)]
    y = [1 if i % 8 in (0, 2, 3) else 0 for i in range(n)]  # A: 5/20, B: 10/20
    d = table(kind, arms, y=y, day=[1 + i % 2 for i in range(n)])
    res = ab.analyze(d, arm="arm", metrics=[ab.Proportion("y")], control="A")
    assert res.n == {"A": 20, "B": 20}
    assert res.comparisons[0].abs_effect == pytest.approx(0.25, abs=1e-12)
    seq = ab.sequential(d, arm="arm", metrics=[ab.Proportion("y")], time_col="day", control="A")
    assert seq.n_last == {"A": 20, "B": 20} and seq.looks[-1].arm == "B"


def test_second_label_found_after_the_first_rows():
    from lifesim.ab._polars import _guess_labels

    late = pl.DataFrame({"arm": ["A"] * 1500 + ["B", "A", "C"]})
    assert _guess_labels(late, "arm") == ["A", "B"]
    early = pl.DataFrame({"arm": ["A", "A", "C", "B"]})
    assert _guess_labels(early, "arm") == ["A", "C"]
    assert _guess_labels(pl.DataFrame({"arm": ["A"] * 1200}), "arm") == ["A"]


@pytest.mark.parametrize("kind", ["pandas-object", "polars"])
def test_control_and_expected_split_typed_with_the_padding_name_the_stripped_arm(kind):
    # ' B' copied from the file named no arm ("control ' B' is not a value ... 'A', 'B'")
    d = table(kind, ARMS, y=Y, x=X)
    padded = ab.analyze(
        d, arm="arm", metrics=ab.Mean("y"), control=" B", expected_split={" B": 3, "A ": 1}
    )
    row = padded.to_pandas().iloc[0]
    assert (row.control, row.arm) == ("B", "A")
    assert row.abs_effect == pytest.approx(2.0 - 6.0)  # mean A - mean B, by hand
    assert padded.srm.expected_shares == pytest.approx({"B": 0.75, "A": 0.25})
    with pytest.raises(DataError, match="control ' C' is not a value"):
        ab.analyze(d, arm="arm", metrics=ab.Mean("y"), control=" C")
