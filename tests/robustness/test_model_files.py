"""Hostile model files: changed, bloated, zip-bombed or with malformed metadata.

A model is trained once through ``lifesim churn train``; each case derives a hostile copy and
runs ``lifesim churn score --model COPY``: exit 2, no traceback, a message naming the problem,
and no file in the folder changed.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from lifesim.churn import persistence
from tests.robustness._inputs import fenced, refused, run, tree


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A snapshot table and a model trained on it (paths)."""
    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(3)
    n = 400
    tenure = rng.integers(1, 72, n)
    churn = rng.random(n) < 1 / (1 + np.exp(0.08 * tenure - 2))
    table = pd.DataFrame(
        {
            "customerID": [f"{i:05d}" for i in range(n)],
            "tenure": tenure,
            "charges": rng.gamma(3, 20, n).round(2),
            "Churn": np.where(churn, "Yes", "No"),
        }
    )
    data = folder / "snapshot.csv"
    table.to_csv(data, index=False)
    model = folder / "m.skops"
    from lifesim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["churn", "train", str(data), "--label", "Churn", "--id", "customerID",
              "--out", str(model)])  # fmt: skip
    assert not exc.value.code
    return data, model


FORMAT = persistence.FORMAT
CHECKSUM_MEMBER = getattr(persistence, "CHECKSUM_MEMBER", "lifesim-checksum.json")
_seal = getattr(persistence, "_seal", lambda path: None)  # the code before checksums had none


def _score(capsys, here: Path, data: Path, model: Path, *needles: str) -> None:
    before = tree(here)
    code, err = run(capsys, "churn", "score", data, "--model", model, "--format", "json")
    refused(code, err, *needles)
    assert tree(here) == before


def _rewrite(src: Path, dst: Path, change) -> None:
    """Copy an archive member by member, letting ``change(name, data)`` alter contents."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info)))


@pytest.fixture
def here(tmp_path, monkeypatch, trained):
    data, model = trained
    shutil.copy(data, tmp_path / "snapshot.csv")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_changed_model_file_is_detected(capsys, here, trained):
    _, model = trained

    def change(name: str, data: bytes) -> bytes:
        if name != "schema.json":
            return data
        return data.replace(b"n_customers", b"n_customerz", 1)

    _rewrite(model, here / "changed.skops", change)
    _score(capsys, here, here / "snapshot.csv", here / "changed.skops", "changed.skops",
           "changed after it was saved", "checksum")  # fmt: skip


def test_a_model_without_checksum_is_refused(capsys, here, trained):
    _, model = trained
    with zipfile.ZipFile(model) as zin, zipfile.ZipFile(here / "bare.skops", "w") as zout:
        for info in zin.infolist():
            if info.filename != CHECKSUM_MEMBER:
                zout.writestr(info.filename, zin.read(info))
    _score(capsys, here, here / "snapshot.csv", here / "bare.skops", "no checksum")


@pytest.mark.parametrize(
    "meta, needle",
    [
        ("{not json", "metadata is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"spec": 3, "feature_names": ["a"], "definition": null}', "'spec' must be an object"),
        ('{"spec": {"windowz": 1}, "feature_names": [1], "definition": 5}', "malformed metadata"),
    ],
)
def test_malformed_metadata_is_a_clean_error(capsys, here, trained, meta, needle):
    from lifesim.churn.scoring import load_model

    good = load_model(trained[1])
    path = here / "meta.skops"
    sio.dump({"format": FORMAT, "model": good.model, "meta": meta}, path)
    _seal(path)  # a crafted file whose checksum matches: the metadata itself is checked
    _score(capsys, here, here / "snapshot.csv", path, "meta.skops", needle)


def test_an_oversized_file_is_refused_before_reading(capsys, here):
    big = here / "big.skops"
    with big.open("wb") as f:  # sparse: no disk used
        f.truncate(300 * 2**20)
    _score(capsys, here, here / "snapshot.csv", big, "big.skops", "at most 256 MB")


def test_a_zip_bomb_is_refused_from_its_directory(here):
    bomb = here / "bomb.skops"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("schema.json", "w", force_zip64=True) as f:
            block = b" " * 2**22
            for _ in range(290):  # about 1.2 GB of white space, a few MB compressed
                f.write(block)
            f.write(b"{}")
    assert bomb.stat().st_size < 10 * 2**20
    before = tree(here)
    code, err = fenced("churn", "score", "snapshot.csv", "--model", bomb, cwd=here)
    refused(code, err, "bomb.skops", "zip bomb", "at most 1024 MB unpacked")
    assert tree(here) == before
