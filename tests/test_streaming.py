"""Folds beyond host memory: clips streamed from the stores give the in-memory path's batches
and models bit for bit, and hold a fraction of its memory (issue 30, item 3)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mol_core.clips.data import ClipDataset, StoreCache, expand_batch
from mol_core.clips.device_batches import DeviceArrays
from mol_core.clips.index import build_clip_index
from mol_core.clips.streaming import StreamingClips, fold_nbytes, step_batches
from mol_core.datasets import class_names
from mol_core.errors import ConfigError, DataError
from mol_core.train.loop import TrainSettings, batch_plan, train_fold

from .conftest import SMALL_PREPARATION, markers_of

TINY_MODEL = {"flow_width": 0.125, "fusion": "subtract"}


@pytest.fixture(scope="module")
def clips(small_stores, small_videos):
    return build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)[0]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("targets", ["teacher", "residual", "exact"])
def test_a_streamed_item_is_the_cached_item_bit_for_bit(clips, targets):
    few = clips.iloc[::7]
    cached = ClipDataset(few, seed=3, cache=StoreCache(targets), crop_jitter=6)
    streamed = StreamingClips(few, seed=3, crop_jitter=6, targets=targets)
    for i in range(len(few)):
        assert same(cached[i], streamed[i]), i  # centre crops
        assert same(cached.augmented(i, (5, i)), streamed.augmented(i, (5, i))), i  # random crops and flips
    assert same(cached.batch([0, 1], [(1, 0), (1, 1)]), streamed.batch([0, 1], [(1, 0), (1, 1)]))
    cached_shapes, side = cached.video_landmarks()
    streamed_shapes, streamed_side = streamed.video_landmarks()
    assert side == streamed_side and all(np.array_equal(a, b) for a, b in zip(cached_shapes, streamed_shapes, strict=True))


def test_worker_processes_deliver_each_steps_batch_in_order(clips):
    cached = ClipDataset(clips, seed=1, cache=StoreCache())
    plans = [batch_plan(len(clips), 4, 1, step - 1) for step in range(3, 8)]
    streamed = list(step_batches(StreamingClips(clips, seed=1), plans, 3, workers=2, pin=False))
    assert len(streamed) == 5
    for offset, batch in enumerate(streamed):
        step = 3 + offset
        assert batch["frames"].dtype == torch.uint8 and batch["flow"].dtype == torch.float16  # compact between processes
        assert same(expand_batch(batch), cached.batch(plans[offset], [(step, slot) for slot in range(len(plans[offset]))])), step


def test_the_in_memory_size_is_what_the_in_memory_path_holds(clips):
    cache = StoreCache()
    cache.load_all(clips)
    assert fold_nbytes(clips) == DeviceArrays.from_cache(cache, torch.device("cpu")).nbytes


def test_a_streamed_fold_trains_the_same_model_as_an_in_memory_one(clips, tmp_path):
    names = class_names("synthetic", 5)
    fold = sorted(clips.subject.unique())[0]
    models, messages = {}, []
    for name, extra in (("memory", {}), ("streamed", {"host_memory_gb": 0.001, "loader_workers": 2})):
        settings = TrainSettings(steps=4, batch_size=4, eval_every=2, log_every=2, checkpoint_every=2, **extra)
        predictions = train_fold(clips, fold, tmp_path / name, names, settings, TINY_MODEL, log=messages.append)
        models[name] = (torch.load(tmp_path / name / "model.pt", weights_only=False)["state_dict"], predictions)
    (memory, memory_predictions), (streamed, streamed_predictions) = models["memory"], models["streamed"]
    assert all(torch.equal(memory[k], streamed[k]) for k in memory)
    pd.testing.assert_frame_equal(memory_predictions, streamed_predictions)
    assert any("above host_memory_gb 0.001: clips streamed from the stores by 2 workers" in m for m in messages), messages


def test_the_settings_are_checked(clips):
    with pytest.raises(ConfigError, match="host_memory_gb"):
        TrainSettings(host_memory_gb=-1)
    with pytest.raises(ConfigError, match="loader_workers"):
        TrainSettings(loader_workers=-1)
    with pytest.raises(DataError, match="cannot be read"):
        StreamingClips(clips.iloc[:1].assign(store="/nowhere/sub01/v.zarr"))


@pytest.mark.parametrize("damage", ["gone", "cut short", "not zstd"])
def test_a_damaged_chunk_stops_the_read_naming_the_store_and_the_repair(clips, tmp_path, damage):
    row = clips.iloc[0]
    store = tmp_path / "cache" / "k" / "sub" / Path(row.store).name
    shutil.copytree(row.store, store)
    chunk = store / "flow" / row.flow / "c" / str(int(row.pair_rows[0])) / "0" / "0" / "0"
    data = chunk.read_bytes()
    if damage == "gone":
        chunk.unlink()
    else:
        chunk.write_bytes(data[: len(data) // 2] if damage == "cut short" else b"not a zstd frame at all")
    data = StreamingClips(clips.iloc[:1].assign(store=str(store)))  # opening reads metadata only
    with pytest.raises(DataError, match="cannot be read") as raised:
        data[0]
    assert str(store) in str(raised.value) and f"flow/{row.flow}" in str(raised.value) and "verify" in str(raised.value)


PEAK = """
import json, sys
import pandas as pd
from mol_core.clips.data import ClipDataset, StoreCache, expand_batch
from mol_core.clips.streaming import StreamingClips, step_batches
from mol_core.train.loop import batch_plan
def high_water():  # peak resident bytes since the last reset (Linux: VmHWM)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
    return int(line.split()[1]) * 1024
clips = pd.read_parquet(sys.argv[1])
plans = [batch_plan(len(clips), 4, 0, step) for step in range(6)]
open("/proc/self/clear_refs", "w").write("5")  # the peak from here on: the imports' own is not the data's
start = high_water()
if sys.argv[2] == "memory":
    data = ClipDataset(clips, cache=StoreCache())
    for s, p in enumerate(plans):  # a batch is used and dropped, as in training
        data.batch(p, [(s, i) for i in range(len(p))])
else:
    for batch in step_batches(StreamingClips(clips), plans, 1, workers=0, pin=False):
        pass
print(json.dumps(high_water() - start))
"""


def test_a_streamed_fold_holds_a_fraction_of_the_in_memory_paths_host_memory(clips, tmp_path):
    """Peak resident memory a process adds while it reads six training batches of a fold of
    six copies of the small set's stores (Linux's high-water mark, reset after the imports):
    in memory at least most of the fold's videos; streamed, a small fraction of them."""
    copies = []
    for k in range(6):
        moved = {store: str(tmp_path / f"copy{k}" / Path(store).parent.name / Path(store).name) for store in clips.store.unique()}
        for source, target in moved.items():
            shutil.copytree(source, target)
        copies.append(clips.assign(subject=clips.subject + f"_{k}", store=clips.store.map(moved)))
    many = pd.concat(copies, ignore_index=True)
    path = tmp_path / "clips.parquet"
    many.to_parquet(path)
    run = lambda how: subprocess.run([sys.executable, "-c", PEAK, str(path), how], capture_output=True, text=True, check=True)  # noqa: E731
    peaks = {how: json.loads(run(how).stdout) for how in ("memory", "stream")}
    videos = fold_nbytes(many)
    assert videos > 80 * 2**20
    assert peaks["memory"] > 0.7 * videos, (peaks, videos)
    assert peaks["stream"] < 0.2 * videos, (peaks, videos)
