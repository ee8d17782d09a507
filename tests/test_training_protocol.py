"""Training done right: reproducible, resumable, no test leakage, pre-training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import mol_core.train.loop as train_module
from mol_core.clips.device_batches import DeviceClips
from mol_core.clips.index import build_clip_index
from mol_core.datasets import class_names, load
from mol_core.report import write_experiment
from mol_core.train.loop import TrainSettings, mean_landmarks, train_fold

from .conftest import SMALL_PREPARATION, markers_of

TINY_MODEL = {"flow_width": 0.0625, "fusion": "subtract"}
NAMES = class_names("synthetic", 5)


def small_clips(small_stores, small_videos):
    return build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)[0]


def test_same_config_same_machine_same_metrics(small_stores, small_videos, tmp_path):
    clips = small_clips(small_stores, small_videos)
    settings = TrainSettings(steps=4, batch_size=4, lr=1e-3, eval_every=2, val_subjects=1, seed=3)
    runs = []
    for run in ("a", "b"):
        predictions = [
            train_fold(clips, fold, tmp_path / run / fold, NAMES, settings, TINY_MODEL, log=lambda m: None) for fold in ("sub01", "sub02")
        ]
        runs.append(write_experiment("repro", [tmp_path / run / f / "predictions.parquet" for f in ("sub01", "sub02")], NAMES, tmp_path / run))
        runs[-1] = (runs[-1], pd.concat(predictions))
    (metrics_a, pred_a), (metrics_b, pred_b) = runs
    pd.testing.assert_frame_equal(metrics_a.frame, metrics_b.frame)
    assert np.array_equal(np.stack(pred_a.logits), np.stack(pred_b.logits))
    assert (tmp_path / "a" / "confusion.png").is_file() and cv2.imread(str(tmp_path / "a" / "curves.png")) is not None
    other_seed = TrainSettings(**{**settings.__dict__, "seed": 4})
    changed = train_fold(clips, "sub01", tmp_path / "c", NAMES, other_seed, TINY_MODEL, log=lambda m: None)
    assert not np.array_equal(np.stack(changed.logits), np.stack(pred_a.logits[: len(changed)]))


def test_killed_training_resumes_to_the_same_end(small_stores, small_videos, tmp_path):
    clips = small_clips(small_stores, small_videos)
    clips_file = tmp_path / "clips.parquet"
    clips.to_parquet(clips_file)
    settings = '{"steps": 12, "batch_size": 4, "lr": 0.001, "eval_every": 4, "log_every": 1, "checkpoint_every": 2}'
    command = [
        sys.executable,
        "-m",
        "mol_core.train",
        "--clips",
        str(clips_file),
        "--fold",
        "sub02",
        "--class-names",
        str(NAMES).replace("'", '"'),
        "--model",
        '{"flow_width": 0.0625, "fusion": "subtract"}',
        "--settings",
        settings,
    ]
    killed = tmp_path / "killed"
    process = subprocess.Popen(command + ["--out", str(killed)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (killed / "resume.pt").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    assert process.poll() is None, "training ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "model.pt").exists()
    resumed = subprocess.run(command + ["--out", str(killed)], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at step" in resumed.stdout and not (killed / "resume.pt").exists()
    whole = subprocess.run(command + ["--out", str(tmp_path / "whole")], capture_output=True, text=True)
    assert whole.returncode == 0
    log_killed, log_whole = pd.read_csv(killed / "log.csv"), pd.read_csv(tmp_path / "whole" / "log.csv")
    assert log_killed.step.tolist() == log_whole.step.tolist() == list(range(1, 13))
    pd.testing.assert_series_equal(log_killed.loss, log_whole.loss)  # same data, same random state
    a = pd.read_parquet(killed / "predictions.parquet")
    b = pd.read_parquet(tmp_path / "whole" / "predictions.parquet")
    assert np.array_equal(np.stack(a.logits), np.stack(b.logits))


def test_no_test_video_reaches_training_or_selection(small_stores, small_videos, tmp_path, monkeypatch):
    clips = small_clips(small_stores, small_videos)
    seen = {"train": set(), "validate": set(), "predict": set()}
    originals = {cls: cls.batch for cls in (train_module.ClipDataset, DeviceClips)}

    def recording_batch(self, indices, keys=None):
        phase = "train" if keys is not None else "evaluate"
        if phase == "train":
            seen["train"] |= set(self.clips.subject.iloc[list(indices)])
        return originals[type(self)](self, indices, keys)

    def recording_validate(model, dataset, *args, **kwargs):
        seen["validate"] |= set(dataset.clips.subject)
        return original_validate(model, dataset, *args, **kwargs)

    original_validate = train_module.validate
    for cls in originals:  # batches cut per clip or on the device
        monkeypatch.setattr(cls, "batch", recording_batch)
    monkeypatch.setattr(train_module, "validate", recording_validate)
    for fold in sorted(clips.subject.unique()):
        for key in seen:
            seen[key].clear()
        settings = TrainSettings(steps=6, batch_size=4, eval_every=2, val_subjects=1)
        predictions = train_fold(clips, fold, tmp_path / fold, NAMES, settings, TINY_MODEL, log=lambda m: None)
        assert seen["train"] and fold not in seen["train"] and fold not in seen["validate"], (fold, seen)
        assert seen["validate"] and not seen["train"] & seen["validate"]
        assert set(predictions.subject) == {fold}


def test_pretraining_on_unlabelled_videos_initialises_a_fold(small_stores, small_videos, tmp_path):
    clips = small_clips(small_stores, small_videos)
    unlabelled = clips.assign(label=0, emotion="unlabelled")
    pretrain = tmp_path / "pretrain"
    settings = TrainSettings(steps=3, batch_size=4, eval_every=1, val_subjects=1)
    options = {**TINY_MODEL, "mer_head": False}
    report = train_fold(unlabelled, "all", pretrain, ["unlabelled"], settings, options, log=lambda m: None)
    assert "pred" not in report and report.flow_epe.notna().all()  # flow/landmark errors of the validation videos
    checkpoint = torch.load(pretrain / "model.pt", weights_only=False)
    assert not any(k.startswith("mer.") for k in checkpoint["state_dict"])
    messages = []
    train_fold(
        clips,
        "sub01",
        tmp_path / "fold",
        NAMES,
        TrainSettings(steps=1, batch_size=4, eval_every=1),
        TINY_MODEL,
        log=messages.append,
        init=pretrain / "model.pt",
    )
    assert any("initialised" in m and "from" in m for m in messages)
    # the fold's landmark baseline is its own training mean shape, not the pre-training's
    run = train_module.FoldTraining(
        clips, "sub01", tmp_path / "again", NAMES, settings, TINY_MODEL, log=lambda m: None, init=pretrain / "model.pt"
    )
    own = mean_landmarks(run.train_set)
    assert torch.equal(run.model.landmarks.mean_shape.cpu(), own)
    assert not torch.equal(checkpoint["state_dict"]["landmarks.mean_shape"], own)


def test_labelled_pretraining_of_the_whole_network_then_fine_tuning(small_stores, small_videos, tmp_path):
    """The paper's order: the whole network (CE + flow + landmarks) pre-trained on a labelled
    set, validated on held-out subjects; a fold of a dataset with other classes starts from
    every weight that fits, its MER output layer re-initialised."""
    clips = small_clips(small_stores, small_videos)
    pretrain = tmp_path / "pretrain"
    settings = TrainSettings(steps=2, batch_size=4, eval_every=1, val_subjects=1)
    report = train_fold(clips, "all", pretrain, NAMES, settings, TINY_MODEL, log=lambda m: None, pretrain=True)
    checkpoint = torch.load(pretrain / "model.pt", weights_only=False)
    subjects = checkpoint["subjects"]
    assert subjects["test"] == [] and len(subjects["validation"]) == 1 and len(subjects["train"]) == 2
    assert set(report.subject) == set(subjects["validation"]) and report.pred.notna().all()  # validation videos predicted
    assert checkpoint["class_names"] == NAMES and checkpoint["state_dict"]["mer.classifier.5.weight"].shape == (5, 256)
    pd.testing.assert_series_equal(pd.read_csv(pretrain / "log.csv").ce.notna(), pd.Series([True, True], name="ce"))
    three = class_names("synthetic", 3)  # negative (disgust, repression), positive (happiness), surprise
    mapping = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}
    relabelled = clips[clips.emotion.isin(mapping)].assign(label=lambda c: c.emotion.map(mapping))
    messages = []
    run = train_module.FoldTraining(
        relabelled,
        "sub01",
        tmp_path / "fold",
        three,
        TrainSettings(steps=1, batch_size=4),
        TINY_MODEL,
        log=messages.append,
        init=pretrain / "model.pt",
    )
    state, saved = run.model.state_dict(), checkpoint["state_dict"]
    assert torch.equal(state["mer.conv.weight"].cpu(), saved["mer.conv.weight"])  # kept
    assert torch.equal(state["features.layers.0.weight"].cpu(), saved["features.layers.0.weight"])
    assert state["mer.classifier.5.weight"].shape == (3, 256)  # re-initialised for three classes
    assert any(m.startswith("initialised from") and f"kept {len(saved) - 2} of {len(saved)} tensors" in m for m in messages)
    assert any(m.startswith("  re-initialised mer.classifier.5.weight: the MER output layer: 5 classes") for m in messages)


def test_folder_of_videos_for_pretraining(small_videos, tmp_path):
    folder = tmp_path / "videos"
    (folder / "clipA").mkdir(parents=True)
    frames = [cv2.imread(f) for f in small_videos.frames.iloc[0]]
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / "clipA" / f"{k}.png"), frame)
    writer = cv2.VideoWriter(str(folder / "person_b.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    for take in ("take1", "take2"):  # one person's videos in a folder: one subject
        (folder / "person_c" / take).mkdir(parents=True)
        for k, frame in enumerate(frames):
            cv2.imwrite(str(folder / "person_c" / take / f"{k}.png"), frame)
    records = load("folder", folder)
    assert sorted((r.subject, r.video) for r in records) == [
        ("clipA", "clipA"),
        ("person_b", "person_b"),
        ("person_c", "person_c__take1"),
        ("person_c", "person_c__take2"),
    ]
    video = next(r for r in records if r.subject == "person_b")
    assert len(video.frames) == len(frames) and video.frames[3].endswith("person_b.avi::3")
    from mol_core.util.video_io import read_gray_frames

    decoded = read_gray_frames(video.frames)
    assert decoded.shape == (len(frames),) + frames[0].shape[:2]


def test_a_pretraining_validates_on_the_official_validation_split():
    """Aff-Wild2's clips carry the owners' split: the pre-training trains on the train split
    only and draws its validation faces from the validation split; without a split column
    they are drawn from every subject."""
    from mol_core.errors import ConfigError
    from mol_core.train.loop import fold_split

    split = {"A": "train", "B": "train", "C": "validation", "D": "validation", "E": "validation"}
    clips = pd.DataFrame([{"subject": s, "video": f"{s}_{k}", "split": v} for s, v in split.items() for k in range(2)])
    settings = TrainSettings(val_subjects=2)
    train, val, test, subjects = fold_split(clips, "all", settings, pretrain=True)
    assert subjects["train"] == ["A", "B"] and len(subjects["validation"]) == 2 and set(subjects["validation"]) < {"C", "D", "E"}
    assert set(train.subject) == {"A", "B"} and set(val.subject) == set(subjects["validation"]) and test.empty
    assert fold_split(clips, "all", TrainSettings(val_subjects=9), pretrain=True)[3]["validation"] == ["C", "D", "E"]
    drawn = fold_split(clips.drop(columns="split"), "all", settings, pretrain=True)[3]
    assert len(drawn["validation"]) == 2 and len(drawn["train"]) == 3
    unsplit = clips.assign(split=None)  # an index of a dataset without a split: drawn as before
    assert fold_split(unsplit, "all", settings, pretrain=True)[3] == drawn
    mixed = pd.concat([clips, pd.DataFrame([{"subject": "A", "video": "A_9", "split": "validation"}])])
    with pytest.raises(ConfigError, match="both official splits"):
        fold_split(mixed, "all", settings, pretrain=True)
