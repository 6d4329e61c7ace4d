"""``--out`` paths a careless user gives: refused with exit 2 and a message, nothing written."""

from __future__ import annotations

from tests.robustness._inputs import refused, run
from tests.robustness._util import tree_hash as tree


def test_datasets_get_into_a_dangling_link_is_refused(capsys, tmp_path, monkeypatch):
    # before: "error: File exists (dangling)" with exit status 1
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    before = tree(tmp_path)
    code, err = run(capsys, "datasets", "get", "all", "--out", "dangling")
    refused(code, err, "--out 'dangling'", "does not exist")
    assert tree(tmp_path) == before and not (tmp_path / "nowhere").exists()


def test_a_dangling_link_as_out_is_never_replaced(capsys, tmp_path, monkeypatch):
    # before: `ab analyze --out link` replaced the user's link with a file (exit 0), and
    # `simulate --out link` said "[Errno 20] Not a directory: '.link.x.tmp' -> 'link'"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ab.csv").write_text(
        "arm,rev\n" + "".join(f"{'control' if i % 2 else 'b'},{i}\n" for i in range(20)),
        encoding="utf-8",
    )
    (tmp_path / "s.yaml").write_text(
        "days: 3\nmarket: {size: 10, initial: a}\n"
        "stages: {a: {to: {b: 0.1}}, b: {kind: customer}}\n",
        encoding="utf-8",
    )
    (tmp_path / "report.txt").symlink_to(tmp_path / "reports" / "ab.txt")
    (tmp_path / "run").symlink_to(tmp_path / "runs" / "sim")
    before = tree(tmp_path)
    code, err = run(
        capsys, "ab", "analyze", "ab.csv", "--arm", "arm", "--mean", "rev", "--out", "report.txt"
    )
    refused(code, err, "--out 'report.txt' is a link to", "does not exist")
    code, err = run(capsys, "simulate", "s.yaml", "--no-progress", "--out", "run")
    refused(code, err, "--out 'run' is a link to", "does not exist")
    assert tree(tmp_path) == before
