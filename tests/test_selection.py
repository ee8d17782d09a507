"""The selections beside ours, each named for what it is (issue 26, item 4): ``best_test``
(an oracle, marked LEAKY) and ``authors`` (the last step per clip, marked NOT COMPARABLE),
apart in every table; ``test_fold`` rows of older runs read as best_test."""

from __future__ import annotations

import pandas as pd
import pytest

from mol_core.report import summary_markdown, write_experiment

NAMES = ["negative", "positive", "surprise"]


def fold_file(folder, fold: str, label: int, validation_pred: int, leaky_pred: int | None, leaky_name: str = "best_test", clips=()) -> str:
    rows = [{"fold": fold, "selection": "validation", "dataset": "x", "subject": fold, "video": "v", "label": label, "pred": validation_pred}]
    if leaky_pred is not None:
        rows.append({**rows[0], "selection": leaky_name, "pred": leaky_pred})
    rows += [{**rows[0], "selection": "authors", "clip": k, "pred": pred} for k, pred in enumerate(clips)]
    path = folder / "folds" / fold / "predictions.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


@pytest.mark.parametrize("leaky_name", ["best_test", "test_fold"])  # test_fold: the old name
def test_three_selections_are_apart_and_named_in_every_table(tmp_path, leaky_name):
    out = tmp_path / "exp"
    # validation: 1 of 3 videos right; best test step: 3 of 3; authors: the last step per clip, 4 of 6 clips right
    clips = {0: [0, 1], 1: [1, 1], 2: [0, 2]}
    files = [fold_file(out, f"s{i}", i, pred, i, leaky_name, clips[i]) for i, pred in enumerate([0, 2, 1])]
    metrics = write_experiment("exp", files, NAMES, out).set_index("metric")
    assert metrics.loc["acc", "pooled"] == pytest.approx(1 / 3) and metrics.loc["best_test:acc", "pooled"] == 1.0
    assert metrics.loc["authors:acc", "pooled"] == pytest.approx(4 / 6)  # counted per clip
    assert list(metrics.index[:4]) == ["acc", "wf1", "uf1", "uar"]  # ours first, unchanged
    assert len(pd.read_csv(out / "per_fold.csv")) == 3 and pd.read_csv(out / "confusion.csv").iloc[:, 1:].to_numpy().sum() == 3
    markdown = (out / "metrics.md").read_text()
    ours, rest = markdown.split("## Best test step (LEAKY: an oracle")
    leaky, authors = rest.split("## The authors' protocol (NOT COMPARABLE")
    assert "| Acc | 33.33 |" in ours and "| Acc | 100.00 |" in leaky and "only to compare with published numbers" in leaky
    assert "| Acc | 66.67 |" in authors and "every test clip counted once" in authors
    rows = [line for line in summary_markdown([str(out / "metrics.csv")]).splitlines() if line.startswith("| exp")]
    assert rows[0].startswith("| exp | 33.33 |")
    assert rows[1].startswith("| exp: best test step (LEAKY: an oracle") and "| 100.00 |" in rows[1]
    assert rows[2].startswith("| exp: the authors' protocol (NOT COMPARABLE") and "| 66.67 |" in rows[2]


def test_predictions_without_a_selection_column_are_the_validation_choice(tmp_path):
    out = tmp_path / "old"
    files = [fold_file(out, f"s{i}", i, i, None) for i in range(3)]
    for f in files:
        pd.read_parquet(f).drop(columns="selection").to_parquet(f)  # a run from before the column
    metrics = write_experiment("old", files, NAMES, out).set_index("metric")
    assert metrics.loc["acc", "pooled"] == 1.0 and not any(":" in m for m in metrics.index)
    assert "LEAKY" not in (out / "metrics.md").read_text()
