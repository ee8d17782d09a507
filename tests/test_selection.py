"""The paper's leaky protocol beside ours (issue 16, item 4): with ``selection: [validation,
test_fold]`` every table gives the test-fold selection's figures apart, marked LEAKY."""

from __future__ import annotations

import pandas as pd
import pytest

from mol_core.report import TEST_FOLD, summary_markdown, write_experiment

NAMES = ["negative", "positive", "surprise"]


def fold_file(folder, fold: str, label: int, validation_pred: int, leaky_pred: int | None) -> str:
    rows = [{"fold": fold, "selection": "validation", "dataset": "x", "subject": fold, "video": "v", "label": label, "pred": validation_pred}]
    if leaky_pred is not None:
        rows.append({**rows[0], "selection": "test_fold", "pred": leaky_pred})
    path = folder / "folds" / fold / "predictions.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


def test_leaky_rows_are_apart_and_labelled_in_every_table(tmp_path):
    out = tmp_path / "exp"
    files = [fold_file(out, f"s{i}", i, pred, i) for i, pred in enumerate([0, 2, 1])]  # validation: 1 of 3 right; test fold: 3 of 3
    metrics = write_experiment("exp", files, NAMES, out).set_index("metric")
    assert metrics.loc["acc", "pooled"] == pytest.approx(1 / 3) and metrics.loc[TEST_FOLD + "acc", "pooled"] == 1.0
    assert list(metrics.index[:4]) == ["acc", "wf1", "uf1", "uar"]  # ours first, unchanged
    assert len(pd.read_csv(out / "per_fold.csv")) == 3 and pd.read_csv(out / "confusion.csv").iloc[:, 1:].to_numpy().sum() == 3
    markdown = (out / "metrics.md").read_text()
    ours, leaky = markdown.split("## Selected on the test fold (LEAKY")
    assert "| Acc | 33.33 |" in ours and "| Acc | 100.00 |" in leaky and "only to compare with published numbers" in leaky
    rows = [line for line in summary_markdown([str(out / "metrics.csv")]).splitlines() if line.startswith("| exp")]
    assert rows[0].startswith("| exp | 33.33 |") and rows[1].startswith("| exp: selected on the test fold (LEAKY") and "| 100.00 |" in rows[1]


def test_predictions_without_a_selection_column_are_the_validation_choice(tmp_path):
    out = tmp_path / "old"
    files = [fold_file(out, f"s{i}", i, i, None) for i in range(3)]
    for f in files:
        pd.read_parquet(f).drop(columns="selection").to_parquet(f)  # a run from before the column
    metrics = write_experiment("old", files, NAMES, out).set_index("metric")
    assert metrics.loc["acc", "pooled"] == 1.0 and not any(m.startswith(TEST_FOLD) for m in metrics.index)
    assert "LEAKY" not in (out / "metrics.md").read_text()
