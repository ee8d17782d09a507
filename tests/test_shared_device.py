"""Several folds per device (train.folds_per_gpu): one job trains its fold and the next ones,
each to the model it gets alone; the companions' own jobs adopt them (issue 30, item 4)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from mol_core.clips.index import build_clip_index
from mol_core.datasets import class_names
from mol_core.store.lock import entry_lock
from mol_core.train import shared_device
from mol_core.train.device_memory import MemoryReport
from mol_core.train.loop import TrainSettings, main, train_fold
from mol_core.train.shared_device import BATCHED, RUN_ID, companions_of

from .conftest import SMALL_PREPARATION, markers_of

TINY_MODEL = {"flow_width": 0.125, "fusion": "subtract"}
SETTINGS = {"steps": 3, "batch_size": 4, "eval_every": 3, "log_every": 1, "checkpoint_every": 3}
NAMES = class_names("synthetic", 5)


@pytest.fixture(scope="module")
def clip_file(small_stores, small_videos, tmp_path_factory):
    clips = build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)[0]
    path = tmp_path_factory.mktemp("shared") / "clips.parquet"
    clips.to_parquet(path)
    return path, sorted(clips.subject.unique())


def job(clip_file, folds, fold: str, *, per_device: int, threads: int = 2) -> int:
    path, queue = clip_file
    settings = json.dumps({**SETTINGS, "folds_per_gpu": per_device})
    argv = ["--clips", str(path), "--fold", fold, "--out", str(folds / fold), "--class-names", json.dumps(NAMES)]
    return main(argv + ["--model", json.dumps(TINY_MODEL), "--settings", settings, "--threads", str(threads), "--queue", *queue])


def weights(folder) -> dict:
    return torch.load(folder / "model.pt", weights_only=False)["state_dict"]


def test_a_job_trains_its_companion_to_the_model_it_gets_alone_and_the_companions_job_adopts_it(clip_file, tmp_path, capsys):
    path, queue = clip_file
    first, second = queue[:2]
    folds = tmp_path / "folds"
    assert job(clip_file, folds, first, per_device=2) == 0
    out = capsys.readouterr().out
    assert "training 2 fold(s) on one device" in out
    assert "GiB at its peak on cpu" in out and "1 of 1 companion(s) fit beside it" in out, out  # measured, then started
    waiting = folds / second / BATCHED
    assert (waiting / "model.pt").is_file() and (waiting / RUN_ID).is_file() and not (folds / second / "model.pt").exists()

    assert job(clip_file, folds, second, per_device=2) == 0  # the companion's own job: adopts, trains nothing
    assert "adopted the outputs another job trained" in capsys.readouterr().out
    assert (folds / second / "model.pt").is_file() and not waiting.exists()

    clips = pd.read_parquet(path)
    alone = tmp_path / "alone"
    for fold in (first, second):  # one thread each, as each fold of the shared job had
        torch.set_num_threads(1)
        train_fold(clips, fold, alone / fold, NAMES, TrainSettings(**SETTINGS), TINY_MODEL, log=lambda m: None)
        mine, theirs = weights(folds / fold), weights(alone / fold)
        assert all(torch.equal(mine[k], theirs[k]) for k in mine), fold
        pd.testing.assert_frame_equal(
            pd.read_parquet(folds / fold / "predictions.parquet"), pd.read_parquet(alone / fold / "predictions.parquet")
        )
        assert (folds / fold / RUN_ID).read_text() == (alone / fold / RUN_ID).read_text()  # the same run, whatever folds_per_gpu


def test_a_fold_another_job_holds_or_that_is_trained_is_no_companion(clip_file, tmp_path, capsys):
    _, queue = clip_file
    first, second, third = queue[:3]
    folds = tmp_path / "folds"
    with entry_lock(folds / second / BATCHED, timeout=0):  # another job trains or adopts it
        assert job(clip_file, folds, first, per_device=2) == 0
    out = capsys.readouterr().out
    assert f"({first}, {third})" in out, out
    assert not (folds / second / BATCHED).exists() and (folds / third / BATCHED / "model.pt").is_file()
    job(clip_file, folds, second, per_device=2)  # after it (wrapping): third waits to be adopted, first is trained
    assert f"training 1 fold(s) on one device ({second})" in capsys.readouterr().out


def test_the_queue_wraps_and_the_setting_is_checked():
    assert companions_of("b", ["a", "b", "c"]) == ["c", "a"]
    assert companions_of("x", ["a", "b"]) == []
    from mol_core.errors import ConfigError

    with pytest.raises(ConfigError, match="folds_per_gpu"):
        TrainSettings(folds_per_gpu=0)


def test_a_companion_that_does_not_fit_beside_the_measured_fold_is_left_to_its_own_job(clip_file, tmp_path, capsys, monkeypatch):
    """The job starts its companions only after its fold's memory report; when the device's
    free memory holds no second fold of that peak, the companion is not trained and its lock
    is free at once (its own job trains it)."""
    _, queue = clip_file
    first, second = queue[:2]
    measured = []

    def tight(path, fold):  # the real report, with just one fold's memory free
        report = real_wait(path, fold)
        measured.append(report)
        return MemoryReport(report.device, report.peak_bytes, report.peak_bytes)

    real_wait = shared_device.wait_for_report
    monkeypatch.setattr(shared_device, "wait_for_report", tight)
    folds = tmp_path / "folds"
    assert job(clip_file, folds, first, per_device=2) == 0
    assert "0 of 1 companion(s) fit beside it" in capsys.readouterr().out
    report = measured[0]  # a process with torch, on a machine with room
    assert report.peak_bytes > 100 * 2**20 and report.free_bytes > report.peak_bytes
    assert (folds / first / "model.pt").is_file() and not (folds / second / BATCHED).exists()
    with entry_lock(folds / second / BATCHED, timeout=0):  # released: its own job can take it
        pass
