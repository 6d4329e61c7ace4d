"""Pin the public API of lifesim.churn (the simulator's churn_targeted strategy builds on it)."""

import ast
from pathlib import Path

import lifesim.churn as churn

PUBLIC = {
    "TransactionSchema",
    "TransactionLog",
    "prepare",
    "read_table",
    "read_snapshot",
    "ChurnDefinition",
    "define",
    "FeatureSpec",
    "ChurnDataset",
    "build_features",
    "build_dataset",
    "ChurnModel",
    "Metrics",
    "ChurnEvaluation",
    "RecencyBaseline",
    "evaluate",
    "evaluate_dataset",
    "calibration_table",
    "TrainedChurnModel",
    "ChurnScores",
    "train",
    "train_dataset",
    "score",
    "load_model",
}


def test_all_is_pinned_and_importable():
    assert set(churn.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(churn, name).__doc__, name


def test_churn_does_not_import_the_simulator():
    """Analysts use lifesim.churn alone (import-linter enforces it too)."""
    folder = Path(churn.__file__).parent
    imported = {
        node.module
        for f in folder.glob("*.py")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for f in folder.glob("*.py")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    forbidden = ("lifesim.engine", "lifesim.model", "lifesim.config", "lifesim.experiments")
    assert not [m for m in imported if m.startswith(forbidden)]
