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
