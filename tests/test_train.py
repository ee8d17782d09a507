"""Training one fold: outputs, fold split, and the test subject kept out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mol_core.clips.index import build_clip_index, combine_clip_tables
from mol_core.datasets import class_names
from mol_core.datasets.folds import split_subjects
from mol_core.train.loop import TrainSettings, _better, flow_pairs_of_step, majority_class, train_fold

from .conftest import SMALL_PREPARATION, SMALL_SAMPLING, markers_of

TINY_MODEL = {"flow_width": 0.125, "fusion": "subtract"}


def small_clips(small_stores, small_videos):
    clips, _ = build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)
    return clips


def test_split_keeps_test_subject_out_of_training_and_validation():
    subjects = [f"sub{i:02d}" for i in range(1, 9)]
    for fold in subjects:
        train, val, test = split_subjects(subjects, fold, 2, seed=0)
        assert test == [fold] and len(val) == 2 and len(train) == 5
        assert fold not in train + val and not set(train) & set(val)
        assert sorted(train + val + test) == subjects
    assert split_subjects(subjects, "sub03", 2, seed=0) == split_subjects(subjects, "sub03", 2, seed=0)


def test_selection_rules():
    """val_loss: lower loss wins; val_acc: higher accuracy, ties by loss; last: every
    validated step replaces the one before (the run's last step is selected)."""
    best = {"val_loss": 1.0, "val_acc": 0.5}
    worse_loss_better_acc = {"val_loss": 1.2, "val_acc": 0.6}
    assert not _better(worse_loss_better_acc, best, "val_loss")
    assert _better(worse_loss_better_acc, best, "val_acc")
    assert not _better({"val_loss": 1.1, "val_acc": 0.5}, best, "val_acc")
    assert _better({"val_loss": 9.0, "val_acc": 0.0}, best, "last")
    assert _better(best, None, "val_loss")


def test_flow_pairs_of_a_step_are_a_pure_function_of_seed_and_step():
    drawn = [flow_pairs_of_step(7, 2, 0, step) for step in range(1, 41)]
    assert all(len(p) == 2 and len(set(p)) == 2 and list(p) == sorted(p) and p.min() >= 0 and p.max() <= 6 for p in drawn)
    assert np.array_equal(drawn[4], flow_pairs_of_step(7, 2, 0, 5))
    assert {int(i) for p in drawn for i in p} == set(range(7))  # every pair is learned over the steps
    assert not np.array_equal(flow_pairs_of_step(7, 2, 1, 5), drawn[4]) or not np.array_equal(flow_pairs_of_step(7, 2, 1, 6), drawn[5])
    assert flow_pairs_of_step(7, None, 0, 1) is None and flow_pairs_of_step(7, 7, 0, 1) is None
    with pytest.raises(ValueError, match="flow_pairs"):
        TrainSettings(flow_pairs=0)


def test_training_on_some_flow_pairs_learns_from_those_pairs_only(small_stores, small_videos, tmp_path, monkeypatch):
    """With flow_pairs, a step estimates the flow of the drawn pairs and compares it with
    the same pairs' targets; evaluation still estimates every pair."""
    import mol_core.train.loop as loop

    clips = small_clips(small_stores, small_videos)
    seen = []
    original = loop.MOLLoss.terms

    def spy(self, outputs, batch):
        seen.append((outputs["flow"].shape[1], batch["flow"].shape[1], batch["frames"].shape[2]))
        return original(self, outputs, batch)

    monkeypatch.setattr(loop.MOLLoss, "terms", spy)
    settings = TrainSettings(steps=2, batch_size=4, eval_every=2, val_subjects=1, flow_pairs=1)
    predictions = train_fold(
        clips, sorted(clips.subject.unique())[0], tmp_path, class_names("synthetic", 5), settings, TINY_MODEL, log=lambda m: None
    )
    assert seen == [(1, 1, SMALL_SAMPLING.frames)] * 2
    assert predictions.flow_epe.notna().all()


def test_train_fold_writes_model_predictions_and_log(small_stores, small_videos, tmp_path):
    clips = small_clips(small_stores, small_videos)
    fold = sorted(clips.subject.unique())[0]
    settings = TrainSettings(steps=3, batch_size=4, lr=1e-3, eval_every=2, log_every=1, val_subjects=1)
    names = class_names("synthetic", 5)
    predictions = train_fold(clips, fold, tmp_path, names, settings, TINY_MODEL, log=lambda m: None)

    saved = pd.read_parquet(tmp_path / "predictions.parquet")
    pd.testing.assert_frame_equal(saved.drop(columns="logits"), predictions.drop(columns="logits"))
    assert np.allclose(np.stack(saved.logits), np.stack(predictions.logits))
    expected = small_videos[small_videos.subject == fold]
    assert sorted(saved.video) == sorted(expected.video) and set(saved.subject) == {fold}
    assert (saved.n_clips == 2).all() and (saved.selection == "validation").all()
    assert saved.pred.between(0, 4).all() and saved.logits.map(len).eq(5).all()
    assert saved.flow_epe.between(0, 10).all() and saved.landmark_nme.between(0, 1).all()

    log = pd.read_csv(tmp_path / "log.csv")
    assert log.step.tolist() == [1, 2, 3]
    assert {"loss", "ce", "flow", "landmark", "lr", "val_loss", "val_acc"} <= set(log.columns)
    assert log.val_loss.notna().tolist() == [False, True, True]

    checkpoint = torch.load(tmp_path / "model.pt", weights_only=False)
    assert checkpoint["class_names"] == names and checkpoint["frames"] == SMALL_SAMPLING.frames
    assert checkpoint["step"] in (2, 3)
    subjects = checkpoint["subjects"]
    assert subjects["test"] == [fold] and fold not in subjects["train"] + subjects["validation"]


def test_best_test_and_authors_selections_beside_the_validation_one(small_stores, small_videos, tmp_path):
    """selection [validation, best_test, authors] (issue 26, item 4): one training, three sets
    of test predictions. best_test is the evaluation step whose test videos score best, so it
    is never below the validation choice; authors is the last step, one row per test clip;
    model.pt keeps the validation-selected step."""
    clips = small_clips(small_stores, small_videos)
    fold = sorted(clips.subject.unique())[0]
    settings = TrainSettings(steps=6, batch_size=4, lr=3e-3, eval_every=1, val_subjects=1, selection=["validation", "best_test", "authors"])
    returned = train_fold(clips, fold, tmp_path, class_names("synthetic", 5), settings, TINY_MODEL, log=lambda m: None)
    test_clips = clips[clips.subject == fold]
    assert returned.selection.value_counts().to_dict() == {"validation": 5, "best_test": 5, "authors": len(test_clips)}
    written = pd.read_parquet(tmp_path / "predictions.parquet")
    chosen = {s: g.set_index("video").sort_index() for s, g in written[written.selection != "authors"].groupby("selection")}
    assert set(chosen) == {"validation", "best_test"} and chosen["validation"].index.equals(chosen["best_test"].index)
    accuracy = {s: float((g.pred == g.label).mean()) for s, g in chosen.items()}
    log = pd.read_csv(tmp_path / "log.csv").set_index("step")
    step = torch.load(tmp_path / "model.pt", weights_only=False)["step"]
    assert log.test_acc.notna().all() and accuracy["best_test"] == log.test_acc.max() >= accuracy["validation"]
    assert log.test_acc[step] == accuracy["validation"]  # the validation choice's own test accuracy
    train_subjects = torch.load(tmp_path / "model.pt", weights_only=False)["subjects"]["train"]
    assert written.majority.nunique() == 1  # the trivial classifier: the fold's majority training class
    assert written.majority.iloc[0] == majority_class(clips[clips.subject.isin(train_subjects)])
    authors = written[written.selection == "authors"]
    assert sorted(zip(authors.video, authors["clip"], strict=True)) == sorted(zip(test_clips.video, test_clips["clip"], strict=True))
    with pytest.raises(ValueError, match="selection must hold 'validation'"):
        TrainSettings(selection=["best_test"])
    assert TrainSettings(selection=["validation", "test_fold"]).selection == ("validation", "best_test")  # the old name
    # Without validation subjects (the last step is ours) the test fold still selects, at every evaluation step.
    alone = TrainSettings(steps=3, batch_size=4, eval_every=2, log_every=5, val_subjects=0, selection=["validation", "best_test", "authors"])
    returned = train_fold(clips, fold, tmp_path / "alone", class_names("synthetic", 5), alone, TINY_MODEL, log=lambda m: None)
    assert returned.selection.value_counts().to_dict() == {"validation": 5, "best_test": 5, "authors": len(test_clips)}
    # No validation subjects: ours is the last step too, so where every clip of a video agrees,
    # the video's prediction (mean logits) is that class: the authors' rows are that model's clips.
    ours = returned[returned.selection == "validation"].set_index("video").pred
    per_clip = returned[returned.selection == "authors"].groupby("video").pred
    agreed = per_clip.nunique() == 1
    assert agreed.any() and (per_clip.first()[agreed] == ours[agreed.index[agreed]]).all()
    assert pd.read_csv(tmp_path / "alone" / "log.csv").dropna(subset=["test_acc"]).step.tolist() == [2, 3]


def test_cross_dataset_fold_trains_on_one_dataset_and_tests_the_other(small_stores, small_videos, tmp_path):
    clips = small_clips(small_stores, small_videos)
    subjects = sorted(clips.subject.unique())
    train_clips = clips[clips.subject != subjects[-1]]
    test_clips = clips[clips.subject == subjects[-1]].assign(dataset="other")
    settings = TrainSettings(steps=2, batch_size=4, eval_every=1, val_subjects=1)
    predictions = train_fold(
        train_clips, "other", tmp_path, class_names("synthetic", 5), settings, TINY_MODEL, log=lambda m: None, test_clips=test_clips
    )
    assert set(predictions.dataset) == {"other"} and len(predictions) == 5
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=False)
    assert checkpoint["subjects"]["test"] == [subjects[-1]]
    assert sorted(checkpoint["subjects"]["train"] + checkpoint["subjects"]["validation"]) == subjects[:-1]


def test_batches_cut_on_the_device_train_exactly_like_the_per_clip_path(small_stores, small_videos, tmp_path):
    """Same seed, batches from the device arrays or per clip: the same losses at every step
    and the same test logits, bit for bit (CPU, fp32); the log names the path taken."""
    clips = small_clips(small_stores, small_videos)
    fold = sorted(clips.subject.unique())[0]
    runs = {}
    for on_device in (True, False):
        settings = TrainSettings(
            steps=4, batch_size=4, lr=1e-3, eval_every=2, log_every=1, val_subjects=1, crop_jitter=2, data_on_device=on_device
        )
        messages = []
        predictions = train_fold(clips, fold, tmp_path / str(on_device), class_names("synthetic", 5), settings, TINY_MODEL, log=messages.append)
        runs[on_device] = (pd.read_csv(tmp_path / str(on_device) / "log.csv"), predictions, messages)
    (log_a, pred_a, messages_a), (log_b, pred_b, messages_b) = runs[True], runs[False]
    for column in ("loss", "ce", "flow", "landmark", "val_loss", "val_acc"):
        assert np.array_equal(log_a[column].to_numpy(), log_b[column].to_numpy(), equal_nan=True), column
    assert np.array_equal(np.stack(pred_a.logits), np.stack(pred_b.logits))
    assert np.array_equal(pred_a.flow_epe.to_numpy(), pred_b.flow_epe.to_numpy())
    assert any("batches cut on cpu from the fold's arrays" in m for m in messages_a)
    assert any("batches cut per clip on the CPU (data_on_device: false" in m for m in messages_b)
    assert any("device cpu, fp32" in m for m in messages_a)


def test_compile_option_compiles_the_training_model(small_stores, small_videos, tmp_path, monkeypatch):
    """``compile: true`` runs the training steps through torch.compile(model) (here a
    stand-in that records its argument); the saved weights are the model's."""
    clips = small_clips(small_stores, small_videos)
    compiled = []

    def fake_compile(model):
        compiled.append(model)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    settings = TrainSettings(steps=1, batch_size=4, eval_every=1, val_subjects=1, compile=True)
    train_fold(clips, sorted(clips.subject.unique())[0], tmp_path, class_names("synthetic", 5), settings, TINY_MODEL, log=lambda m: None)
    assert len(compiled) == 1 and type(compiled[0]).__name__ == "MOL"
    assert torch.load(tmp_path / "model.pt", weights_only=False)["train_settings"]["compile"] is True


def test_a_fold_trained_on_several_datasets_tests_the_one_left_out(small_stores, small_videos, tmp_path):
    """Leave one dataset out: the training tables of two datasets (one subject name shared)
    are combined, validation subjects come from them, and the held-out dataset is predicted whole."""
    clips = small_clips(small_stores, small_videos)
    first, second, held_out = sorted(clips.subject.unique())
    a = clips[clips.subject.isin([first, second])]
    b = clips[clips.subject == first].assign(dataset="other")  # another dataset with a subject of the same name
    test_clips = clips[clips.subject == held_out].assign(dataset="held_out")
    settings = TrainSettings(steps=2, batch_size=4, eval_every=1, val_subjects=1)
    predictions = train_fold(
        combine_clip_tables([a, b]),
        "held_out",
        tmp_path,
        class_names("synthetic", 5),
        settings,
        TINY_MODEL,
        log=lambda m: None,
        test_clips=test_clips,
    )
    assert set(predictions.dataset) == {"held_out"} and len(predictions) == 5
    subjects = torch.load(tmp_path / "model.pt", weights_only=False)["subjects"]
    assert subjects["test"] == [held_out]
    assert sorted(subjects["train"] + subjects["validation"]) == sorted([f"synthetic:{first}", second, f"other:{first}"])
    assert len(subjects["validation"]) == 1


@pytest.mark.parametrize("flow_pairs", [None, 2])
def test_a_training_step_reads_nothing_back_from_the_device(small_stores, small_videos, tmp_path, monkeypatch, flow_pairs):
    """Issue 30: the loss terms stay on the device between log rows (a host read of a CUDA
    tensor waits for every queued kernel). Counted on CPU at the conversion points a step
    could use: ``float``, ``int``, ``bool``, ``item``, ``tolist``, ``numpy``, ``cpu``."""
    import os
    import sys

    from mol_core.train.loop import FoldTraining, mean_terms

    settings = TrainSettings(steps=6, batch_size=4, eval_every=6, log_every=6, flow_pairs=flow_pairs)
    run = FoldTraining(
        small_clips(small_stores, small_videos), "sub01", tmp_path, class_names("synthetic", 5), settings, TINY_MODEL, log=lambda m: None
    )
    reads: list[str] = []
    for name in ("__float__", "__int__", "__bool__", "item", "tolist", "numpy", "cpu"):
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if f"torch{os.sep}optim" not in caller:  # the optimiser's step counters live on the host, also beside a GPU
                reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    running = [run.train_step(step) for step in range(1, 6)]
    assert reads == [] and all(t.dim() == 0 for terms in running for t in terms.values())
    means = mean_terms(running)  # the log row: one read per term
    assert set(means) == {"loss", "ce", "flow", "landmark"} and len(reads) == len(means)
    assert means["loss"] == pytest.approx(float(torch.stack([t["loss"] for t in running]).mean()))


def test_training_and_prediction_follow_the_record_they_are_given_not_the_stores_attributes(small_stores, small_videos, tmp_path):
    """Issue 28: the preprocessing settings and the sampling reach training through the clip
    index's preparation record and the predictor through the checkpoint; no stage reads a
    store's ``params`` (or a flow's) to learn them. Here the stores' records are removed and
    the index says the flow was made with other (nameless) TV-L1 settings: the checkpoint
    keeps exactly what the index said, and prediction prepares a new video with it."""
    import shutil

    import zarr

    from mol_core.clips.preparation import Preparation
    from mol_core.model import Checkpoint
    from mol_core.predict import Predictor
    from mol_core.store.keys import PreprocessSettings

    stores = tmp_path / "stores"
    shutil.copytree(small_stores, stores)
    for store in stores.glob("*/*.zarr"):
        group = zarr.open_group(str(store), mode="r+")
        del group.attrs["params"]
        for _, flow in group["flow"].arrays():
            del flow.attrs["params"], flow.attrs["sampling"]
    clips = small_clips(stores, small_videos)
    said = Preparation(PreprocessSettings(align="smoothed", align_sigma=2.0), SMALL_SAMPLING)  # flow name unchanged: same TV-L1
    clips["preparation"] = said.to_json()
    fold = sorted(clips.subject.unique())[0]
    settings = TrainSettings(steps=1, batch_size=4, eval_every=1, val_subjects=1)
    train_fold(clips, fold, tmp_path / "fold", class_names("synthetic", 5), settings, TINY_MODEL, log=lambda m: None)
    checkpoint = Checkpoint.load(tmp_path / "fold" / "model.pt")
    assert Preparation.from_dict(checkpoint.preparation) == said
    predictor = Predictor(checkpoint, "cpu", cache_dir=tmp_path / "cache")
    assert (predictor.settings, predictor.sampling) == (said.preprocess, said.sampling)
    row = small_videos.iloc[0]
    prediction = predictor.predict(list(row.frames))
    assert len(prediction.clips) == 2 and prediction.predicted in predictor.class_names
    (made,) = (tmp_path / "cache").glob("*.zarr")
    assert zarr.open_group(str(made), mode="r").attrs["params"] == said.preprocess.store_params()  # prepared as the record says
    clips.drop(columns="preparation").to_parquet(tmp_path / "old.parquet")
    with pytest.raises(Exception, match="no preparation column"):
        train_fold(
            pd.read_parquet(tmp_path / "old.parquet"),
            fold,
            tmp_path / "old",
            class_names("synthetic", 5),
            settings,
            TINY_MODEL,
            log=lambda m: None,
        )


def test_deterministic_false_lets_cudnn_benchmark(small_stores, small_videos, tmp_path):
    """train.deterministic (issue 30, item 2): the default keeps cuDNN to deterministic
    algorithms; false turns its benchmark on. On the CPU the two train alike."""
    clips = small_clips(small_stores, small_videos)
    fold, names = sorted(clips.subject.unique())[0], class_names("synthetic", 5)
    weights = {}
    try:
        for deterministic in (True, False):
            settings = TrainSettings(steps=2, batch_size=4, eval_every=2, val_subjects=1, deterministic=deterministic)
            train_fold(clips, fold, tmp_path / str(deterministic), names, settings, TINY_MODEL, log=lambda m: None)
            assert (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) == (deterministic, not deterministic)
            weights[deterministic] = torch.load(tmp_path / str(deterministic) / "model.pt", weights_only=False)["state_dict"]
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    assert all(torch.equal(weights[True][k], weights[False][k]) for k in weights[True])
