"""Batches cut on the device are the per-clip path's batches, bit for bit; the precision policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mol_core.clips import device_batches as device_module
from mol_core.clips.data import ClipDataset
from mol_core.clips.device_batches import DeviceArrays, DeviceClips, device_batches, draw_augmentations
from mol_core.store.zarr_store import add_flow, write_store
from mol_core.train.loop import batch_plan
from mol_core.util import precision as precision_module
from mol_core.util.precision import BF16, FP16, FP32, training_precision

FLOW = "uniform_t8-00000000"


def random_stores(root, videos=3, length=12, seed=0) -> pd.DataFrame:
    """Stores of random frames, landmarks and float16 flow (consecutive pairs), and their t=8
    clips (one per start frame), as a clip index."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(videos):
        path = root / f"sub{v % 2:02d}" / f"EP{v:02d}.zarr"
        frames = rng.integers(0, 256, (length, 144, 144), dtype=np.uint8)
        landmarks = rng.uniform(0, 143, (length, 68, 2)).astype(np.float32)
        write_store(path, frames, landmarks, {})
        flow = rng.normal(0, 2, (length - 1, 2, 144, 144)).astype(np.float16)
        add_flow(path, FLOW, np.stack([np.arange(length - 1), np.arange(1, length)], 1), flow, {})
        for start in range(length - 8 + 1):
            picked = list(range(start, start + 8))
            rows.append(
                {
                    "dataset": "synthetic",
                    "subject": f"sub{v % 2:02d}",
                    "video": f"EP{v:02d}",
                    "emotion": "x",
                    "label": v % 5,
                    "store": str(path),
                    "flow": FLOW,
                    "clip": start,
                    "frames": picked,
                    "pair_rows": picked[:-1],
                }
            )
    return pd.DataFrame(rows)


def bits(tensor: torch.Tensor) -> torch.Tensor:
    """Floats as their bit patterns, so equality is bitwise (-0.0 differs from 0.0)."""
    return tensor.view(torch.int32) if tensor.dtype == torch.float32 else tensor


def assert_same_batch(expected: dict, actual: dict) -> None:
    assert set(expected) == set(actual)
    for name, tensor in expected.items():
        assert actual[name].dtype == tensor.dtype and actual[name].shape == tensor.shape, name
        assert torch.equal(bits(actual[name]), bits(tensor)), name


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return random_stores(tmp_path_factory.mktemp("device_stores"))


@pytest.mark.parametrize("jitter", [None, 0, 5])
def test_device_batches_equal_the_per_clip_batches_bitwise(clips, jitter):
    """Training batches of several steps (random crops and flips from (seed, step, slot)) and
    evaluation centre crops: the same bits from both cutting methods as from ClipDataset."""
    per_clip = ClipDataset(clips, seed=3, crop_jitter=jitter)
    mine = ClipDataset(clips, seed=3, crop_jitter=jitter)  # its own cache: the device arrays are made from it
    device = DeviceClips(mine, DeviceArrays.from_cache(mine.cache, torch.device("cpu")))
    flips = set()
    for step in range(1, 7):
        indices = batch_plan(len(per_clip), 8, 3, step - 1)
        keys = [(step, slot) for slot in range(len(indices))]
        expected = per_clip.batch(indices, keys)
        assert_same_batch(expected, device.batch(indices, keys))
        x0, y0, flip = draw_augmentations(3, keys, 144, 144, 128, jitter)
        flips |= set(flip.tolist())
        for method in ("gather", "slices"):
            assert_same_batch(expected, device.cut(np.asarray(indices), x0, y0, flip, method))
        if jitter == 0:
            assert (x0 == 8).all() and (y0 == 8).all()
    assert flips == {False, True}  # both branches were compared
    for start in range(0, len(per_clip), 8):
        indices = range(start, min(start + 8, len(per_clip)))
        assert_same_batch(per_clip.batch(indices), device.batch(indices))


def test_the_cache_keeps_views_of_the_joined_arrays(clips):
    """After the arrays go to the CPU device the cache holds views of them (no second copy)
    with the same values (flow as float32 there), and the tensors share that memory."""
    dataset = ClipDataset(clips)
    before = {key: {k: v.copy() for k, v in video.items()} for key, video in dataset.cache._videos.items()}
    arrays = DeviceArrays.from_cache(dataset.cache, torch.device("cpu"))
    assert arrays.frames.shape == (3 * 12, 144, 144) and arrays.flow.shape == (3 * 11, 2, 144, 144)
    assert arrays.flow.dtype == torch.float32 and arrays.nbytes == dataset.cache.nbytes
    for key, video in dataset.cache._videos.items():
        frame_row, pair_row = arrays.starts[key]
        for name, array in video.items():
            assert np.array_equal(array, before[key][name])
        assert np.shares_memory(video["frames"], arrays.frames.numpy())
        assert np.shares_memory(video["flow"], arrays.flow.numpy())
        assert np.array_equal(arrays.flow[pair_row : pair_row + 11].numpy(), before[key]["flow"])
        assert np.array_equal(arrays.frames[frame_row].numpy(), before[key]["frames"][0])


def test_device_batches_falls_back_when_disabled_or_too_big(clips, monkeypatch):
    train = ClipDataset(clips)
    val = ClipDataset(clips.iloc[:2], cache=train.cache)
    messages = []
    on_cpu = device_batches([train, val], torch.device("cpu"), messages.append)
    assert all(isinstance(b, DeviceClips) for b in on_cpu) and on_cpu[0].arrays is on_cpu[1].arrays
    assert "batches cut on cpu" in messages[-1]
    assert device_batches([train, val], torch.device("cpu"), messages.append, enabled=False) == [train, val]
    assert "per clip on the CPU" in messages[-1]
    # A CUDA device with too little free memory: the per-clip path, and the log says why.
    monkeypatch.setattr(device_module.torch.cuda, "mem_get_info", lambda device=None: (train.cache.nbytes, 2**40))
    assert device_batches([train, val], torch.device("cuda"), messages.append) == [train, val]
    assert "exceed 50% of cuda's free memory" in messages[-1] and "per clip on the CPU" in messages[-1]
    fit = device_module.device_fit(train.cache.nbytes // 2, torch.device("cuda"))
    assert fit.fits is True and fit.free == train.cache.nbytes  # exactly half
    monkeypatch.setattr(device_module.torch.cuda, "mem_get_info", lambda device=None: (3 * train.cache.nbytes, 2**40))
    assert device_module.device_fit(train.cache.nbytes, torch.device("cuda")).fits is True


def test_precision_policy(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert training_precision(cpu, True) == FP32 and training_precision(cpu, False) == FP32
    monkeypatch.setattr(precision_module, "native_bf16", lambda: True)
    assert training_precision(cuda, True) == BF16 and not BF16.scaled
    assert training_precision(cuda, False) == FP32
    monkeypatch.setattr(precision_module, "native_bf16", lambda: False)
    assert training_precision(cuda, True) == FP16 and FP16.scaled
    with FP32.autocast(cpu):
        assert not torch.is_autocast_enabled("cpu")
