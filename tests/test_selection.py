"""The selections beside ours, each named for what it is (issue 26, item 4): ``best_test``
(an oracle, marked LEAKY) and ``authors`` (the last step per clip, marked NOT COMPARABLE),
apart in every table: rows of their own ``selection`` in metrics.csv."""

from __future__ import annotations

import pandas as pd
import pytest

from mol_core.errors import DataError
from mol_core.report import MetricsTable, summary_markdown, write_experiment

from .helpers import markdown_row, markdown_rows

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


def test_three_selections_are_apart_and_named_in_every_table(tmp_path):
    out = tmp_path / "exp"
    # validation: 1 of 3 videos right; best test step: 3 of 3; authors: the last step per clip, 4 of 6 clips right
    clips = {0: [0, 1], 1: [1, 1], 2: [0, 2]}
    files = [fold_file(out, f"s{i}", i, pred, i, "best_test", clips[i]) for i, pred in enumerate([0, 2, 1])]
    metrics = write_experiment("exp", files, NAMES, out)
    assert metrics.value("acc") == pytest.approx(1 / 3) and metrics.value("acc", selection="best_test") == 1.0
    assert metrics.value("acc", selection="authors") == pytest.approx(4 / 6)  # counted per clip
    assert metrics.keys()[:4] == [(m, "validation", "") for m in ["acc", "wf1", "uf1", "uar"]]  # ours first, unchanged
    assert metrics.selections == ["validation", "best_test", "authors"] and set(metrics.frame.metric) <= set(metrics.rows().index)
    pd.testing.assert_frame_equal(MetricsTable.read(out / "metrics.csv").frame, metrics.frame)
    assert len(pd.read_csv(out / "per_fold.csv")) == 3 and pd.read_csv(out / "confusion.csv").iloc[:, 1:].to_numpy().sum() == 3
    markdown = (out / "metrics.md").read_text()
    ours, rest = markdown.split("## Best test step (LEAKY: an oracle")
    leaky, authors = rest.split("## The authors' protocol (NOT COMPARABLE")
    assert markdown_row(ours, "Acc")[:2] == ["Acc", "33.33"] and markdown_row(leaky, "Acc")[:2] == ["Acc", "100.00"]
    assert markdown_rows(leaky)[0][0] == "Metric (best_test: LEAKY)" and "only to compare with published numbers" in leaky
    assert markdown_row(authors, "Acc")[:2] == ["Acc", "66.67"] and "every test clip counted once" in authors
    rows = [row for row in markdown_rows(summary_markdown([str(out / "metrics.csv")])) if row[0].startswith("exp")]
    assert [row[:2] for row in rows] == [
        ["exp", "33.33"],
        ["exp: best test step (LEAKY)", "100.00"],
        ["exp: the authors' protocol (NOT COMPARABLE)", "66.67"],
    ]


def test_predictions_of_an_unknown_selection_are_refused(tmp_path):
    """``test_fold``, best_test's name before this package's first release, is not read."""
    out = tmp_path / "old"
    files = [fold_file(out, f"s{i}", i, i, i, "test_fold") for i in range(3)]
    with pytest.raises(DataError, match=r"old: predictions of unknown selection\(s\) \['test_fold'\]"):
        write_experiment("old", files, NAMES, out)


def test_predictions_without_a_selection_column_are_the_validation_choice(tmp_path):
    out = tmp_path / "old"
    files = [fold_file(out, f"s{i}", i, i, None) for i in range(3)]
    for f in files:
        pd.read_parquet(f).drop(columns="selection").to_parquet(f)  # a run from before the column
    metrics = write_experiment("old", files, NAMES, out)
    assert metrics.value("acc") == 1.0 and metrics.selections == ["validation"]
    assert "LEAKY" not in (out / "metrics.md").read_text()
