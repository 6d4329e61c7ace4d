from lifesim.experiments import compare
from lifesim.report import (
    compare_report_html,
    forest_figure,
    funnel_figure,
    save_compare_run,
    stage_shares_figure,
)


def test_report_folder_and_figures(tmp_path):
    res = compare(None, replications=2, seed=1, customers=600, days=40)
    for fig in (stage_shares_figure(res), funnel_figure(res), forest_figure(res)):
        assert fig.axes
    html = compare_report_html(res)
    assert html.startswith("<!doctype html>") and html.count("data:image/png;base64,") == 3
    out = save_compare_run(res, tmp_path / "run")
    assert (out / "report.html").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
