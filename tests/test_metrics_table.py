"""metrics.csv in long form (issue 28, items 2 and 4): one row per (metric, selection, source),
read back by one typed reader, and every markdown table rendered by one helper. The figures
of a small hand-checked experiment are written where the row names of the earlier format
put them: ``uf1@samm`` is (uf1, validation, samm), ``best_test:acc`` is (acc, best_test, "")."""

from __future__ import annotations

import pandas as pd
import pytest

from mol_core.errors import DataError
from mol_core.report import ALL_VIDEOS, MetricsTable, markdown_table, write_experiment

NAMES = ["negative", "positive", "surprise"]
# Two LOSO folds: s1 (casme2, labels 0 1, both right), s2 (samm, labels 0 2, both predicted 0);
# the best test step gets every video right.
VIDEOS = [("s1", "casme2", 0, 0), ("s1", "casme2", 1, 1), ("s2", "samm", 0, 0), ("s2", "samm", 2, 0)]
# (metric, selection, source): (pooled, fold_mean, fold_std), worked out by hand.
# All videos: labels 0 1 0 2, predictions 0 1 0 0: Acc 3/4; F1 4/5, 1, 0 -> UF1 3/5, WF1 (2 * 4/5 + 1) / 4;
# recalls 1, 1, 0 -> UAR 2/3. Fold s1: every figure 1. Fold s2: Acc 1/2; F1 2/3 and 0 (positive has
# neither truth nor prediction: no F1) -> UF1 = WF1 = 1/3; recalls 1 and 0 -> UAR 1/2.
EXPECTED = {
    ("acc", "validation", ""): (0.75, 0.75, 0.25),
    ("wf1", "validation", ""): (0.65, 2 / 3, 1 / 3),
    ("uf1", "validation", ""): (0.6, 2 / 3, 1 / 3),
    ("uar", "validation", ""): (2 / 3, 0.75, 0.25),
    ("acc_chance", "validation", ""): (1 / 3, 1 / 3, 0.0),
    ("pred_top_share", "validation", ""): (0.75, 0.75, 0.25),  # predictions 0 1 0 0; per fold 1/2 and 1
    # the earlier rows acc@casme2 ... uar@samm: each source lies in one fold, so its spread is 0
    ("acc", "validation", "casme2"): (1.0, 1.0, 0.0),
    ("wf1", "validation", "casme2"): (1.0, 1.0, 0.0),
    ("uf1", "validation", "casme2"): (1.0, 1.0, 0.0),
    ("uar", "validation", "casme2"): (1.0, 1.0, 0.0),
    ("acc", "validation", "samm"): (0.5, 0.5, 0.0),
    ("wf1", "validation", "samm"): (1 / 3, 1 / 3, 0.0),
    ("uf1", "validation", "samm"): (1 / 3, 1 / 3, 0.0),
    ("uar", "validation", "samm"): (0.5, 0.5, 0.0),
    # the earlier rows best_test:acc ...: every video right
    ("acc", "best_test", ""): (1.0, 1.0, 0.0),
    ("wf1", "best_test", ""): (1.0, 1.0, 0.0),
    ("uf1", "best_test", ""): (1.0, 1.0, 0.0),
    ("uar", "best_test", ""): (1.0, 1.0, 0.0),
    ("acc_chance", "best_test", ""): (1 / 3, 1 / 3, 0.0),
    ("pred_top_share", "best_test", ""): (0.5, 0.5, 0.0),  # predictions 0 1 0 2; per fold 1/2 and 1/2
}


def fold_files(folder) -> list[str]:
    paths = []
    for fold in ("s1", "s2"):
        rows = [
            {"fold": f, "selection": "validation", "dataset": dataset, "subject": f, "video": f"v{i}", "label": label, "pred": pred}
            for i, (f, dataset, label, pred) in enumerate(VIDEOS)
            if f == fold
        ]
        rows += [{**row, "selection": "best_test", "pred": row["label"]} for row in rows]
        path = folder / "folds" / fold / "predictions.parquet"
        path.parent.mkdir(parents=True)
        pd.DataFrame(rows).to_parquet(path)
        paths.append(str(path))
    return paths


def test_a_hand_checked_experiment_gives_its_long_rows(tmp_path):
    out = tmp_path / "megc"
    written = write_experiment("megc", fold_files(out), NAMES, out)
    raw = pd.read_csv(out / "metrics.csv", keep_default_na=False, dtype=str)  # the file as written, every field text
    assert raw.columns.tolist() == ["metric", "selection", "source", "pooled", "fold_mean", "fold_std"]
    assert raw.iloc[0].tolist() == ["acc", "validation", "", "0.75", "0.75", "0.25"]  # over all videos: an empty source
    assert not raw.metric.str.contains("[@:]").any()  # plain metric names
    table = MetricsTable.read(out / "metrics.csv")
    pd.testing.assert_frame_equal(table.frame, written.frame)
    assert table.keys() == list(EXPECTED)  # all videos, then each source, then the other selection
    for (metric, selection, source), expected in EXPECTED.items():
        figures = [table.value(metric, column, selection, source) for column in ("pooled", "fold_mean", "fold_std")]
        assert figures == pytest.approx(expected, abs=1e-12), (metric, selection, source)
    assert table.selections == ["validation", "best_test"] and table.sources() == ["casme2", "samm"] and table.sources("best_test") == []


def test_the_reader_keeps_sources_and_missing_values_apart(tmp_path):
    path = tmp_path / "metrics.csv"
    frame = pd.DataFrame(
        {
            "metric": ["acc", "acc", "acc"],
            "selection": ["validation", "validation", "authors"],
            "source": [ALL_VIDEOS, "NA", ALL_VIDEOS],  # a dataset may be called NA
            "pooled": [0.5, float("nan"), 0.25],
            "seed_std": [float("nan"), 0.1, 0.0],
        }
    )
    MetricsTable(frame).write(path)
    assert path.read_text().splitlines()[1:3] == ["acc,validation,,0.5,", "acc,validation,NA,,0.1"]
    table = MetricsTable.read(path)
    assert table.sources() == ["NA"] and table.value_columns == ["pooled", "seed_std"]
    assert table.value("acc", "seed_std", source="NA") == 0.1 and pd.isna(table.value("acc", source="NA"))
    assert table.value("acc", selection="authors") == 0.25
    assert pd.isna(table.value("uf1")) and pd.isna(table.value("acc", "fold_mean"))  # no such row, no such column


def test_a_metrics_file_of_the_row_name_format_is_refused_naming_it(tmp_path):
    path = tmp_path / "old" / "metrics.csv"
    path.parent.mkdir()
    pd.DataFrame({"metric": ["acc", "uf1@samm", "best_test:acc"], "pooled": [0.5, 0.4, 0.9]}).to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"old/metrics.csv: metrics table without the column\(s\) \['selection', 'source'\].*--forcerun experiment_report"
    ):
        MetricsTable.read(path)


def test_a_table_holds_each_row_once_and_known_selections_only():
    row = {"metric": "acc", "selection": "validation", "source": "", "pooled": 0.5}
    with pytest.raises(DataError, match="repeated rows"):
        MetricsTable(pd.DataFrame([row, row]))
    with pytest.raises(DataError, match=r"unknown selection\(s\) \['test_fold'\]"):
        MetricsTable(pd.DataFrame([{**row, "selection": "test_fold"}]))


def test_markdown_tables_line_their_columns_up():
    text = markdown_table(["Metric", "Pooled", "Fold mean ± std"], [["Acc", "33.33", "28.06 ± 8.62"], ["UF1 (samm)", "n/a", "n/a ± n/a"]])
    assert text.splitlines() == [
        "| Metric     |   Pooled |   Fold mean ± std |",
        "|:-----------|---------:|------------------:|",
        "| Acc        |    33.33 |      28.06 ± 8.62 |",
        "| UF1 (samm) |      n/a |         n/a ± n/a |",
    ]
    # cells are written as given: no number re-parsed (100.00 keeps its zeros), text columns left-aligned on request
    assert markdown_table(["a", "b"], [["x", "100.00"]], align="ll").splitlines()[1:] == ["|:----|:-------|", "| x   | 100.00 |"]
    with pytest.raises(ValueError, match="3 alignments for 2 columns"):
        markdown_table(["a", "b"], [], align="lrr")
