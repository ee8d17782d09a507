"""Every learned output is reported beside its trivial baseline and, on the synthetic set, its
teacher's error against the exact truth: per clip, per video, and in every report."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mol_core.clips.data import ClipDataset
from mol_core.clips.index import build_clip_index
from mol_core.metrics import FLOW_ERRORS, LANDMARK_ERRORS
from mol_core.model import MOL
from mol_core.report import experiment_metrics, summary_markdown
from mol_core.train.evaluate import predict_clips, video_predictions
from mol_core.train.loop import mean_landmarks

from .conftest import SMALL_PREPARATION, markers_of
from .helpers import markdown_row, markdown_rows


@pytest.fixture(scope="module")
def clips(small_stores, small_videos):
    return build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)[0]


def untrained_model(clips, frames=4) -> MOL:
    """A fresh model predicts exactly its baselines: the landmark head's last layer starts at
    zero (so it outputs the mean shape) and the flow head's prediction layers are zeroed."""
    torch.manual_seed(0)
    model = MOL(5, frames=frames, flow_width=0.125, fusion="subtract")
    model.landmarks.mean_shape.copy_(mean_landmarks(ClipDataset(clips)))
    for predict in model.flow.predicts:
        torch.nn.init.zeros_(predict.weight)
    return model.eval()


def test_a_model_that_predicts_its_baselines_scores_them_exactly(clips):
    out = predict_clips(untrained_model(clips), ClipDataset(clips), 8, torch.device("cpu"), exact=True)
    assert np.allclose(out["flow_epe"], out["flow_epe_zero"]) and (out["flow_epe_zero"] > 0).all()
    assert np.allclose(out["landmark_nme"], out["landmark_nme_mean_shape"])
    assert np.allclose(out["flow_epe_exact"], out["flow_epe_zero_exact"])
    assert np.allclose(out["landmark_nme_exact"], out["landmark_nme_mean_shape_exact"])
    # The teachers are far closer to the exact truth than the baselines.
    assert out["flow_epe_tvl1_exact"].mean() < 0.8 * out["flow_epe_zero_exact"].mean()
    assert out["landmark_nme_dlib_exact"].mean() < 0.5 * out["landmark_nme_mean_shape_exact"].mean()
    assert 0.005 < out["landmark_nme_dlib_exact"].mean() < 0.05  # dlib against the exact points: a few % of the eye distance


def test_a_better_model_beats_its_baselines_in_the_report(clips):
    """Give the landmark head the exact dlib targets' per-video shape: it must beat the mean
    shape, and the report's ratio rows must say so."""
    model = untrained_model(clips)
    data = ClipDataset(clips)
    out = predict_clips(model, data, 8, torch.device("cpu"))
    videos = video_predictions(clips, out)
    assert set(FLOW_ERRORS[:2] + LANDMARK_ERRORS[:2]) <= set(videos.columns)
    better = videos.assign(
        fold="sub01", pred=videos.label, flow_epe=videos.flow_epe_zero * 0.5, landmark_nme=videos.landmark_nme_mean_shape * 0.7
    )
    table, per_fold, _ = experiment_metrics(better, 5)
    pooled = table.rows()["pooled"]
    assert pooled["flow_epe_vs_baseline"] == pytest.approx(0.5)
    assert pooled["landmark_nme_vs_baseline"] == pytest.approx(0.7)
    order = list(table.rows().index)
    assert order.index("flow_epe_vs_baseline") == order.index("flow_epe_zero") + 1  # each ratio right after its baseline
    assert per_fold["landmark_nme_vs_baseline"].iloc[0] == pytest.approx(0.7)


def test_summary_shows_each_metric_beside_its_baseline(clips, tmp_path):
    videos = video_predictions(clips, predict_clips(untrained_model(clips), ClipDataset(clips), 8, torch.device("cpu")))
    table, per_fold, _ = experiment_metrics(videos.assign(fold="sub01", pred=0), 5)
    (tmp_path / "exp").mkdir()
    table.write(tmp_path / "exp" / "metrics.csv")
    per_fold.to_csv(tmp_path / "exp" / "per_fold.csv", index=False)
    summary = summary_markdown([str(tmp_path / "exp" / "metrics.csv")])
    header = markdown_rows(summary)[0]
    assert header[8:14] == ["Flow EPE (px)", "no motion", "EPE ratio", "Landmark NME", "mean shape", "NME ratio"]
    row = markdown_row(summary, "exp")
    assert row[10] == row[13] == "1.00x"  # the untrained model scores exactly its baselines
    assert "eye-centre distance" in summary


def test_every_video_row_carries_the_baselines(clips):
    videos = video_predictions(clips, predict_clips(untrained_model(clips), ClipDataset(clips), 8, torch.device("cpu"), exact=True))
    for column in FLOW_ERRORS + LANDMARK_ERRORS + ["landmark_failure_mean_shape"]:
        assert videos[column].notna().all(), column
    assert len(videos) == len(clips.groupby(["subject", "video"]))


def test_exact_truth_comes_from_the_file_the_clip_index_names(small_dataset, small_videos, tmp_path, monkeypatch):
    """The video table and the clip index carry the synthetic truth's file and the onset
    (issue 28): no path arithmetic on a store's recorded frames, so a workflow in another
    folder sharing the cache (issue 15, item 7e) keeps the exact-truth rows; elsewhere none."""
    import zarr

    from mol_core.errors import DataError
    from mol_core.preprocess.video import build_store
    from mol_core.store.keys import PreprocessSettings
    from mol_core.synthetic.layout import ground_truth_file
    from mol_core.train.evaluate import exact_targets

    row = small_videos.iloc[0]
    assert row.truth == str(ground_truth_file(small_dataset, row.subject, row.video))
    maker = small_dataset.parent
    monkeypatch.chdir(maker)
    relative = [os.path.relpath(f, maker) for f in row.frames]
    store = tmp_path / "cache" / "v.zarr"
    build_store(relative, store, PreprocessSettings(), {"dataset": "synthetic", "subject": row.subject, "video": row.video})
    assert zarr.open_group(str(store), mode="r").attrs["source"]["frames"][0] == str(maker / relative[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    truth = exact_targets(row.truth, row.onset, str(store), [0, 1, 2, 3])
    assert truth is not None and truth["flow"].shape == (3, 2, 128, 128) and truth["landmarks"].shape == (3, 68, 2)
    later = exact_targets(row.truth, row.onset + 1, str(store), [0, 1, 2, 3])  # the store's frame 0 one frame later
    assert not np.allclose(later["landmarks"], truth["landmarks"])
    assert exact_targets(None, row.onset, str(store), [0, 1, 2, 3]) is None
    with pytest.raises(DataError, match="has no frame 999"):
        exact_targets(row.truth, 999, str(store), [0, 1, 2, 3])


def test_the_classifier_stands_beside_the_majority_class_and_chance(tmp_path):
    """Each fold's majority training class (column ``majority``), pooled like the model's
    predictions, and chance; a model that gives one class to most videos is flagged."""
    import pandas as pd

    from mol_core.report import write_experiment
    from mol_core.train.loop import majority_class

    assert (
        majority_class(pd.DataFrame({"dataset": "d", "subject": "s", "video": ["a", "a", "b", "c", "d"], "label": [2, 2, 1, 2, 1]})) == 1
    )  # videos, not clips; ties: lowest
    rows = []
    for fold, labels, preds, majority in (("s1", [0, 0, 1, 2], [0, 0, 0, 0], 0), ("s2", [1, 2, 2, 0], [0, 0, 0, 0], 2)):
        rows += [
            {
                "fold": fold,
                "selection": "validation",
                "dataset": "d",
                "subject": fold,
                "video": f"{fold}{i}",
                "label": y,
                "pred": p,
                "majority": majority,
            }
            for i, (y, p) in enumerate(zip(labels, preds, strict=True))
        ]
    path = tmp_path / "exp" / "folds" / "s1" / "predictions.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(path)
    pooled = write_experiment("exp", [str(path)], ["negative", "positive", "surprise"], tmp_path / "exp").rows().pooled
    assert pooled["acc"] == pytest.approx(3 / 8) and pooled["acc_majority"] == pytest.approx(4 / 8)  # s1: 2 of 4, s2: 2 of 4
    assert pooled["acc_chance"] == pytest.approx(1 / 3) and pooled["pred_top_share"] == 1.0
    text = (tmp_path / "exp" / "metrics.md").read_text()
    assert markdown_row(text, "baseline: majority training class, Acc")[1] == "50.00"
    assert "**Warning: 100% of the test videos are predicted `negative`.**" in text
    summary = summary_markdown([str(tmp_path / "exp" / "metrics.csv")])
    header, row = markdown_rows(summary)[0], markdown_row(summary, "exp")
    assert header[:7] == ["Experiment", "Acc", "WF1", "UF1", "UAR", "majority Acc", "majority UF1"]
    assert row[:2] == ["exp", "37.50"] and row[5] == "50.00"


def test_real_data_tables_hide_empty_rows_flag_outlier_folds_and_give_each_run_its_context(tmp_path):
    """No exact-truth rows without exact truth; a fold whose flow head errs 9.9x its no-motion
    baseline named; the summary's Run cell: preset, coverage, skipped videos, differences."""
    import pandas as pd
    import yaml

    from mol_core.report import write_experiment

    rows = []
    for fold, epe in (("sub01", 0.05), ("sub02", 0.99), ("sub03", 0.06)):
        rows += [
            {
                "fold": fold,
                "selection": "validation",
                "dataset": "casme2_5",
                "subject": fold,
                "video": f"{fold}_{i}",
                "label": i % 5,
                "pred": i % 5,
                "majority": 0,
                "flow_epe": epe,
                "flow_epe_zero": 0.1,
                "flow_epe_exact": np.nan,
                "flow_epe_zero_exact": np.nan,
            }
            for i in range(4)
        ]
    out = tmp_path / "results" / "casme2_5class"
    path = out / "folds" / "sub01" / "predictions.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(path)
    record = {
        "preset": "quick",
        "dataset": "casme2_5",
        "protocol": "loso",
        "datasets_used": {"casme2_5": {"loader": "casme2", "classes": 5}},
        "differs_from_paper": ["max_folds: 5 (paper: every fold)", "train.steps: 200 (paper: 1000)"],
    }
    (out / "config.yaml").write_text(yaml.safe_dump(record))
    (tmp_path / "results" / "casme2_5").mkdir()
    pd.DataFrame({"subject": ["sub04"], "video": ["EP01"], "reason": ["no face found"], "stage": ["preprocess"]}).to_csv(
        tmp_path / "results" / "casme2_5" / "skipped.csv", index=False
    )
    pooled = write_experiment(
        "casme2_5class", [str(path)], ["happiness", "disgust", "repression", "surprise", "others"], out, config=out / "config.yaml"
    )
    assert "flow_epe_exact" not in set(pooled.frame.metric)
    columns = set(pd.read_csv(out / "per_fold.csv").columns)
    assert "flow_epe" in columns and not [c for c in columns if "exact" in c]  # no empty synthetic-only columns
    text = (out / "metrics.md").read_text()
    assert "n/a" not in text and "exact truth" not in text  # no empty rows: no exact truth on real data
    assert (
        "**Outlier folds**: sub02 (" in text
        and "9.9x its baseline)" in text
        and "sub01" not in text.split("**Outlier folds**")[1].split("\n")[0]
    )
    summary = summary_markdown([str(out / "metrics.csv")])
    header, row = markdown_rows(summary)[0], markdown_row(summary, "casme2_5class")
    assert header[6:] == [
        "majority UF1",
        "chance Acc",
        "Flow EPE (px)",
        "no motion",
        "EPE ratio",
        "Landmark NME",
        "mean shape",
        "NME ratio",
        "Folds",
        "Run",
    ]
    assert row[-2:] == [
        "3",
        "preset quick; 12 of the complete release's 246 test videos (3 of 26 subjects); 1 skipped (results/casme2_5/skipped.csv); "
        "2 settings differ from the paper's",
    ]
    assert row[7] == "20.00"  # chance: 1 of 5 classes
