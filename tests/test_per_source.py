"""Per-source metrics: wherever the test videos pool several source datasets (the composite
set's parts under LOSO, a composite test set of a cross experiment, the held-out datasets of
leave-one-dataset-out), every table gives each source's Acc, WF1, UF1 and UAR beside the
pooled row. Predictions are built with known correctness per source, so every number is exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mol_core.report import MetricsTable, Scores, SourceMetrics, source_metrics, summary_markdown, write_experiment

from .helpers import markdown_row, markdown_rows

# Three classes (negative, positive, surprise); per source: (labels, predictions).
# casme2: Acc 3/4; F1 0.8, 1, 0 -> UF1 0.6, WF1 (1.6 + 1) / 4 = 0.65; recalls 1, 1, 0 -> UAR 2/3.
CASME2 = ([0, 0, 1, 2], [0, 0, 1, 0])
CASME2_SCORES = Scores(acc=0.75, wf1=0.65, uf1=0.6, uar=2 / 3)
# samm: every video right.
SAMM = ([1, 2], [1, 2])
SAMM_SCORES = Scores(acc=1.0, wf1=1.0, uf1=1.0, uar=1.0)
# smic: Acc 2/3; F1 0, 2/3, 1 -> UF1 = WF1 = 5/9; recalls 0, 1, 1 -> UAR 2/3.
SMIC = ([0, 1, 2], [1, 1, 2])
SMIC_SCORES = Scores(acc=2 / 3, wf1=5 / 9, uf1=5 / 9, uar=2 / 3)
# samm and smic pooled: labels 1 2 0 1 2, predictions 1 2 1 1 2: Acc 4/5; F1 0, 0.8, 1 -> UF1 0.6,
# WF1 (1.6 + 2) / 5 = 0.72; recalls 0, 1, 1 -> UAR 2/3.
SAMM_SMIC_SCORES = Scores(acc=0.8, wf1=0.72, uf1=0.6, uar=2 / 3)
NAMES = ["negative", "positive", "surprise"]


def videos(dataset: str, labels_preds, fold, subjects) -> pd.DataFrame:
    """Prediction rows: ``fold`` a name, or one per video (LOSO: the video's subject)."""
    labels, preds = labels_preds
    folds = fold if isinstance(fold, list) else [fold] * len(labels)
    return pd.DataFrame(
        {"fold": folds, "dataset": dataset, "subject": subjects, "video": [f"v{i}" for i in range(len(labels))], "label": labels, "pred": preds}
    )


def composite_loso() -> pd.DataFrame:
    """MEGC2019 composite under LOSO: casme2 sub01 (2 videos, both right), sub02 (one of two
    right), samm 006, smic s01 and s02."""
    return pd.concat(
        [
            videos("casme2", CASME2, ["sub01", "sub01", "sub02", "sub02"], ["sub01", "sub01", "sub02", "sub02"]).assign(
                label=[0, 1, 0, 2], pred=[0, 1, 0, 0]
            ),
            videos("samm", SAMM, ["006", "006"], ["006", "006"]),
            videos("smic", SMIC, ["s01", "s02", "s02"], ["s01", "s02", "s02"]),
        ],
        ignore_index=True,
    )


def assert_scores(actual: Scores, expected: Scores) -> None:
    assert vars(actual) == pytest.approx(vars(expected), abs=1e-12)


def test_composite_loso_gives_each_source_pooled_over_its_subjects():
    sources = {s.source: s for s in source_metrics(composite_loso(), 3, "loso")}
    assert list(sources) == ["casme2", "samm", "smic"]
    assert all(isinstance(s, SourceMetrics) for s in sources.values())
    # casme2 relabelled per subject above: labels 0 1 0 2, predictions 0 1 0 0: same confusion as CASME2.
    assert_scores(sources["casme2"].pooled, CASME2_SCORES)
    assert_scores(sources["samm"].pooled, SAMM_SCORES)
    assert_scores(sources["smic"].pooled, SMIC_SCORES)
    casme2 = sources["casme2"]
    assert (casme2.videos, casme2.subjects, casme2.folds) == (4, 2, 2)
    # sub01: all right (UF1 1, UAR 1); sub02: labels 0 2, predictions 0 0: Acc 1/2, F1 2/3 and 0 -> UF1 1/3,
    # recalls 1 and 0 -> UAR 1/2 (the positive class, absent from both truth and predictions, has no F1).
    assert_scores(casme2.fold_mean, Scores(acc=0.75, wf1=(1 + 1 / 3) / 2, uf1=2 / 3, uar=0.75))
    assert casme2.fold_std.acc == pytest.approx(0.25) and casme2.fold_std.uf1 == pytest.approx(1 / 3)


def lodo_predictions() -> pd.DataFrame:
    """Leave one dataset out over casme2_3 and a composite megc of samm and smic (each fold
    is named after the dataset it held out)."""
    return pd.concat(
        [
            videos("casme2", CASME2, "casme2_3", ["sub01"] * 4),
            videos("samm", SAMM, "megc", ["006", "007"]),
            videos("smic", SMIC, "megc", ["s01", "s02", "s03"]).assign(video=["w0", "w1", "w2"]),
        ],
        ignore_index=True,
    )


def test_lodo_gives_each_held_out_dataset_and_each_part_of_a_held_out_composite():
    sources = {s.source: s for s in source_metrics(lodo_predictions(), 3, "lodo")}
    assert list(sources) == ["casme2_3", "megc", "megc/samm", "megc/smic"]
    assert_scores(sources["casme2_3"].pooled, CASME2_SCORES)
    assert_scores(sources["megc"].pooled, SAMM_SMIC_SCORES)
    assert_scores(sources["megc/samm"].pooled, SAMM_SCORES)
    assert_scores(sources["megc/smic"].pooled, SMIC_SCORES)
    megc = sources["megc"]
    assert (megc.videos, megc.subjects, megc.folds) == (5, 5, 1)
    assert_scores(megc.fold_mean, megc.pooled)  # one fold: its mean is the pooled value, its spread 0
    assert_scores(megc.fold_std, Scores(0.0, 0.0, 0.0, 0.0))


def test_folds_of_one_loader_are_told_apart_by_the_held_out_dataset():
    """Two configured datasets of one loader (two copies of the synthetic set): the record's
    dataset is the same, the fold (the held-out dataset) is not."""
    predictions = pd.concat(
        [videos("synthetic", CASME2, "synth_a", ["sub01"] * 4), videos("synthetic", SMIC, "synth_b", ["sub01"] * 3)], ignore_index=True
    )
    sources = source_metrics(predictions, 3, "lodo")
    assert [s.source for s in sources] == ["synth_a", "synth_b"]
    assert_scores(sources[1].pooled, SMIC_SCORES)
    assert source_metrics(predictions, 3, "loso") == []  # under LOSO the record's dataset is the source: one


def test_a_single_source_adds_nothing_and_a_composite_test_set_adds_its_parts():
    one = videos("smic", SMIC, "smic", ["s01", "s02", "s03"])
    assert source_metrics(one, 3, "cross") == []
    composite_test = lodo_predictions().query("fold == 'megc'")
    assert [s.source for s in source_metrics(composite_test, 3, "cross")] == ["samm", "smic"]


def write_folds(predictions: pd.DataFrame, folder) -> list[str]:
    paths = []
    for fold, group in predictions.groupby("fold", sort=False):
        path = folder / "folds" / str(fold) / "predictions.parquet"
        path.parent.mkdir(parents=True)
        group.to_parquet(path)
        paths.append(str(path))
    return paths


def test_every_table_of_a_lodo_experiment_has_its_per_source_rows(tmp_path):
    out = tmp_path / "lodo_megc"
    metrics = write_experiment("lodo_megc", write_folds(lodo_predictions(), out), NAMES, out, protocol="lodo")
    table = MetricsTable.read(out / "metrics.csv")
    pd.testing.assert_frame_equal(table.frame, metrics.frame)
    # The pooled row: all 9 videos, each tested by the model that did not train on its dataset.
    assert table.value("acc") == pytest.approx(7 / 9)
    assert table.value("acc", "fold_mean") == pytest.approx((0.75 + 0.8) / 2)
    assert table.value("uf1", source="casme2_3") == pytest.approx(0.6)
    assert table.value("uar", source="casme2_3") == pytest.approx(2 / 3)
    assert table.value("uf1", source="megc/smic") == pytest.approx(5 / 9)
    assert table.value("wf1", source="megc") == pytest.approx(0.72)
    assert table.rows(source="megc/samm").loc["acc"].tolist() == [1.0, 1.0, 0.0]  # pooled, fold_mean, fold_std
    assert table.keys()[:4] == [(m, "validation", "") for m in ["acc", "wf1", "uf1", "uar"]]  # the pooled rows first, as before
    assert table.sources() == ["casme2_3", "megc", "megc/samm", "megc/smic"]
    assert list(table.rows(source="megc").index) == ["acc", "wf1", "uf1", "uar"]  # a source has the classification rows alone
    per_source = pd.read_csv(out / "per_source.csv")
    assert per_source.columns.tolist() == ["source", "videos", "subjects", "folds", "acc", "wf1", "uf1", "uar"]
    assert per_source.source.tolist() == ["casme2_3", "megc", "megc/samm", "megc/smic"]
    assert per_source.videos.tolist() == [4, 5, 2, 3]
    assert np.allclose(per_source.uar, [2 / 3, 2 / 3, 1.0, 2 / 3])
    markdown = (out / "metrics.md").read_text()
    assert "9 test videos in 2 leave-one-dataset-out folds" in markdown
    assert markdown_row(markdown, "casme2_3") == ["casme2_3", "4", "1", "1", "75.00", "65.00", "60.00", "66.67"]
    assert markdown_row(markdown, "megc/smic") == ["megc/smic", "3", "3", "1", "66.67", "55.56", "55.56", "66.67"]
    summary = summary_markdown([str(out / "metrics.csv")])
    rows = [row for row in markdown_rows(summary) if row[0].startswith("lodo_megc")]
    assert rows[0][:2] == ["lodo_megc", "77.78"] and rows[0][-2:] == ["2", ""]  # Folds, then Run (no record here)
    blank = [""] * 11  # the other summary columns, Folds and Run
    assert rows[1:] == [
        ["lodo_megc: casme2_3", "75.00", "65.00", "60.00", "66.67", *blank],
        ["lodo_megc: megc", "80.00", "72.00", "60.00", "66.67", *blank],
        ["lodo_megc: megc/samm", "100.00", "100.00", "100.00", "100.00", *blank],
        ["lodo_megc: megc/smic", "66.67", "55.56", "55.56", "66.67", *blank],
    ]


def test_a_single_dataset_experiment_keeps_its_tables_as_they_were(tmp_path):
    out = tmp_path / "smic_loso"
    predictions = videos("smic", SMIC, ["s01", "s02", "s03"], ["s01", "s02", "s03"])
    metrics = write_experiment("smic_loso", write_folds(predictions, out), NAMES, out)
    assert metrics.keys() == [(m, "validation", "") for m in ["acc", "wf1", "uf1", "uar", "acc_chance", "pred_top_share"]]
    assert metrics.sources() == [] and not (out / "per_source.csv").exists()
    assert "By source" not in (out / "metrics.md").read_text()
    assert "3 test videos in 3 leave-one-subject-out folds" in (out / "metrics.md").read_text()
    assert [row[0] for row in markdown_rows(summary_markdown([str(out / "metrics.csv")])) if row[0].startswith("smic_loso")] == ["smic_loso"]
