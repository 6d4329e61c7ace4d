"""``--overwrite`` replaces an earlier run folder only if nothing in it was changed since.

The run folder's manifest records a checksum of every file and folder lifesim wrote and one of
the manifest itself; an edited output, an own file listed in the manifest by hand, or a manifest
without checksums (an older lifesim) makes ``--overwrite`` refuse, with the folder unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from lifesim._io import OutputPathError, atomic_dir, check_out_dir
from tests.robustness._util import assert_clean_failure, cli, tree_hash

SIM = ("simulate", "--customers", "300", "--days", "5", "--no-progress")


@pytest.fixture(autouse=True)
def _cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run(capsys, tmp_path):
    """A fresh ``lifesim simulate`` run folder."""
    out = tmp_path / "r1"
    code, _, err = cli(capsys, *SIM, "--out", out, "--seed", "1")
    assert code == 0, err
    return out


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _refused(capsys, tmp_path, folder, *needles):
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *SIM, "--out", folder, "--seed", "2", "--overwrite")
    assert_clean_failure(code, err, 2, repr(str(folder)), *needles)
    assert tree_hash(tmp_path) == before
    return err


def test_the_manifest_records_sha256sum_of_every_file_it_lists(run):
    m = _manifest(run)
    assert sorted(m["checksums"]) == m["files"]
    for name in m["files"]:  # the same digest as `sha256sum FILE`
        want = hashlib.sha256((run / name).read_bytes()).hexdigest()
        assert m["checksums"][name] == "sha256:" + want, name
    assert {"lifesim_version", "files", "seed", "command", "packages"} <= set(m)


def test_an_unchanged_run_folder_is_replaced(capsys, tmp_path, run):
    code, _, err = cli(capsys, *SIM, "--out", run, "--seed", "2", "--overwrite")
    assert code == 0, err
    assert _manifest(run)["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["r1"]  # no .tmp or .old left


def test_an_edited_output_is_kept(capsys, tmp_path, run):
    with open(run / "summary.json", "a", encoding="utf-8") as f:
        f.write("\nmy notes on this run\n")
    err = _refused(capsys, tmp_path, run, "summary.json was changed", "Move", "new folder")
    assert "--overwrite" in err


def test_an_edit_that_keeps_the_size_is_seen(capsys, tmp_path, run):
    text = (run / "scenario.yaml").read_bytes()
    (run / "scenario.yaml").write_bytes(text[:-2] + b"#\n")  # one byte changed, same size
    _refused(capsys, tmp_path, run, "scenario.yaml was changed")


def test_an_own_file_listed_in_the_manifest_by_hand_is_kept(capsys, tmp_path, run):
    (run / "my_analysis.md").write_text("weeks of work")
    m = _manifest(run)
    m["files"] = sorted([*m["files"], "my_analysis.md"])
    (run / "manifest.json").write_text(json.dumps(m, indent=2))
    _refused(capsys, tmp_path, run, "manifest.json was edited", "cannot trust its list")


def test_an_own_file_listed_with_the_manifest_checksum_removed_is_kept(capsys, tmp_path, run):
    (run / "my_analysis.md").write_text("weeks of work")
    m = _manifest(run)
    m["files"] = sorted([*m["files"], "my_analysis.md"])
    del m["manifest_checksum"]
    (run / "manifest.json").write_text(json.dumps(m, indent=2))
    _refused(capsys, tmp_path, run, "no checksums", "older lifesim", "delete")


def test_notes_added_to_the_manifest_are_kept(capsys, tmp_path, run):
    m = _manifest(run)
    m["notes"] = "the run we showed the board"
    (run / "manifest.json").write_text(json.dumps(m, indent=2))
    _refused(capsys, tmp_path, run, "manifest.json was edited", "cannot trust its list")


def test_a_reformatted_manifest_is_still_lifesims(capsys, run):
    m = _manifest(run)
    (run / "manifest.json").write_text(json.dumps(dict(reversed(m.items())), indent=4))
    code, _, err = cli(capsys, *SIM, "--out", run, "--overwrite")
    assert code == 0, err


def test_a_manifest_without_checksums_is_not_trusted(capsys, tmp_path, run):
    m = _manifest(run)  # as an older lifesim wrote it
    del m["checksums"], m["manifest_checksum"]
    (run / "manifest.json").write_text(json.dumps(m, indent=2))
    err = _refused(capsys, tmp_path, run, "no checksums", "older lifesim or by hand")
    assert "delete that folder yourself" in err and "new folder" in err


def test_a_deleted_output_is_no_obstacle(capsys, run):
    (run / "events.parquet").unlink()
    code, _, err = cli(capsys, *SIM, "--out", run, "--overwrite")
    assert code == 0, err
    assert (run / "events.parquet").is_file()


def test_an_output_replaced_by_a_link_is_kept(capsys, tmp_path, run):
    mine = tmp_path / "mine.json"
    shutil.copy(run / "summary.json", mine)
    (run / "summary.json").unlink()
    (run / "summary.json").symlink_to(mine)  # same content, through a link
    _refused(capsys, tmp_path, run, "summary.json was changed")


def test_a_file_added_in_a_folder_lifesim_wrote_is_kept(tmp_path):
    out = tmp_path / "run"
    with atomic_dir(out) as tmp:
        (tmp / "plots").mkdir()
        (tmp / "plots" / "a.png").write_bytes(b"png")
        (tmp / "manifest.json").write_text(json.dumps({"lifesim_version": "x"}))
    m = _manifest(out)
    assert m["files"] == ["plots"] and m["checksums"]["plots"].startswith("sha256:")
    check_out_dir(out, overwrite=True)  # unchanged: may be replaced
    for change in (
        lambda: (out / "plots" / "my.png").write_bytes(b"mine"),
        lambda: (out / "plots" / "sub").mkdir(),
        lambda: (out / "plots" / "a.png").write_bytes(b"PNG"),
        lambda: os.rename(out / "plots" / "a.png", out / "plots" / "b.png"),
    ):
        shutil.rmtree(out)
        with atomic_dir(out) as tmp:
            (tmp / "plots").mkdir()
            (tmp / "plots" / "a.png").write_bytes(b"png")
        change()
        with pytest.raises(OutputPathError, match="plots was changed"):
            check_out_dir(out, overwrite=True)


def test_a_pipe_in_an_output_folder_is_not_read(tmp_path):
    out = tmp_path / "run"
    with atomic_dir(out) as tmp:
        (tmp / "plots").mkdir()
    os.mkfifo(out / "plots" / "pipe")  # opening it for reading would wait for ever
    with pytest.raises(OutputPathError, match="plots was changed"):
        check_out_dir(out, overwrite=True)


def test_names_in_a_forged_manifest_are_never_read_outside_the_folder(tmp_path):
    from lifesim._io import _manifest_checksum

    out = tmp_path / "run"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("a")
    m = _manifest(out)
    m["files"] = [*m["files"], "/dev/zero", "../secret"]
    m["manifest_checksum"] = _manifest_checksum(m)  # a deliberate forgery passes this check
    (out / "manifest.json").write_text(json.dumps(m))
    (tmp_path / "secret").write_text("s")
    check_out_dir(out, overwrite=True)  # returns at once: /dev/zero is not read
    assert (tmp_path / "secret").read_text() == "s"


def test_each_run_folder_writer_seals_its_manifest(tmp_path):
    """Results that write their own manifest.json still get the checksums."""
    import lifesim

    res = lifesim.simulate(None, customers=200, days=3)
    out = res.save(tmp_path / "sim")
    m = _manifest(out)
    assert m["seed"] == res.seed and m["tables"]  # the result's own keys are kept
    assert sorted(m["checksums"]) == m["files"] and "manifest_checksum" in m
    check_out_dir(out, overwrite=True)
