"""Training one fold: outputs, fold split, and the test subject kept out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mol_core.clips.index import build_clip_index
from mol_core.datasets import class_names
from mol_core.datasets.folds import split_subjects
from mol_core.train.loop import TrainSettings, train_fold

from .conftest import SMALL_SAMPLING, markers_of

TINY_MODEL = {"flow_width": 0.125, "fusion": "subtract"}


def small_clips(small_stores, small_videos):
    clips, _ = build_clip_index(small_videos, markers_of(small_stores), SMALL_SAMPLING)
    return clips


def test_split_keeps_test_subject_out_of_training_and_validation():
    subjects = [f"sub{i:02d}" for i in range(1, 9)]
    for fold in subjects:
        train, val, test = split_subjects(subjects, fold, 2, seed=0)
        assert test == [fold] and len(val) == 2 and len(train) == 5
        assert fold not in train + val and not set(train) & set(val)
        assert sorted(train + val + test) == subjects
    assert split_subjects(subjects, "sub03", 2, seed=0) == split_subjects(subjects, "sub03", 2, seed=0)


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
    assert (saved.n_clips == 2).all()
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
