"""Clips read from the stores per batch, for folds beyond host memory (issue 30, item 3).

:class:`StreamingClips` gives :class:`~mol_core.clips.data.ClipDataset`'s items bit for bit
(the same arrays, targets, crops and flips from ``(seed, *key)``) but holds no video: each
item reads its frames, flow pairs and landmarks from the store (one Zarr chunk per frame and
per pair), so a fold's host memory is a few batches, whatever its size.
:func:`step_batches` feeds the training steps from worker processes: the batches of
:func:`~mol_core.train.loop.batch_plan`, in step order, pinned for CUDA, prefetched.
:func:`fold_nbytes` is what the in-memory path would hold, from the stores' shapes alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import zstandard
from torch.utils.data import DataLoader, Dataset, default_collate

from ..errors import DataError
from ..store.zarr_store import open_store
from .data import clip_item, unreadable_stores
from .targets import EXACT_TARGETS, checked_targets, video_targets

PREFETCH = 2  # batches each worker prepares ahead


def fold_nbytes(clips: pd.DataFrame) -> int:
    """Bytes the in-memory path holds for ``clips``' videos (frames, landmarks and each flow
    as float32, as the CPU batches are cut from), from the stores' array shapes."""
    total = 0
    for path in clips.store.unique():
        store = open_store(path)
        total += store["frames"].nbytes + store["landmarks"].nbytes
        for flow in clips.flow[clips.store == path].unique():
            total += store[f"flow/{flow}"].size * 4
    return int(total)


class _ChunkRows:
    """Rows of a Zarr v3 array chunked one row per chunk along its first axis (the stores'
    frames and flow) or stored whole (their landmarks), read from the chunk files directly:
    zarr's own read costs about 3 ms a call in its event loop, and numcodecs' zstd about
    22 us a chunk before any decoding (it makes a new context each call), several times the
    file read and decode of a frame. Only the layout the stores are written with (regular
    grid, default "/" keys, little-endian bytes then zstd); :meth:`open` returns None for
    anything else."""

    def __init__(self, folder: Path, shape: tuple[int, ...], chunk: tuple[int, ...], dtype: np.dtype):
        self.folder, self.shape, self.chunk, self.dtype = folder, shape, chunk, dtype
        self.decoder = zstandard.ZstdDecompressor()  # one context, reused for every chunk
        self.chunk_bytes = int(np.prod(chunk)) * dtype.itemsize
        self.key = f"{folder}/c/{{}}" + "/0" * (len(shape) - 1)  # the chunk file of a row

    @classmethod
    def open(cls, folder: Path) -> _ChunkRows | None:
        meta = json.loads((folder / "zarr.json").read_text())
        codecs = [(c["name"], c.get("configuration", {})) for c in meta.get("codecs", [])]
        shape, chunk = tuple(meta["shape"]), tuple(meta["chunk_grid"]["configuration"]["chunk_shape"])
        plain = (
            meta["chunk_grid"]["name"] == "regular"
            and meta["chunk_key_encoding"] == {"name": "default", "configuration": {"separator": "/"}}
            and [name for name, _ in codecs] == ["bytes", "zstd"]
            and codecs[0][1].get("endian", "little") in ("little", None)
            and chunk[1:] == shape[1:]
            and chunk[0] in (1, shape[0])
        )
        return cls(folder, shape, chunk, np.dtype(meta["data_type"]).newbyteorder("<")) if plain else None

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The array's ``rows`` [len(rows), ...] in its dtype."""
        if self.chunk[0] == self.shape[0]:
            return self._chunk(0)[rows]
        return np.stack([self._chunk(int(r))[0] for r in rows]) if len(rows) else np.zeros((0, *self.shape[1:]), self.dtype)

    def _chunk(self, index: int) -> np.ndarray:
        with open(self.key.format(index), "rb", buffering=0) as file:
            data = self.decoder.decompress(file.readall(), max_output_size=self.chunk_bytes)
        if len(data) != self.chunk_bytes:
            raise DataError(f"chunk {self.key.format(index)} decodes to {len(data)} bytes, expected {self.chunk_bytes}")
        return np.frombuffer(data, self.dtype).reshape(self.chunk)


class _Arrays:
    """A store's arrays by name, each opened once (opening reads its metadata): read row by
    row through :class:`_ChunkRows` where the layout allows, else through zarr."""

    def __init__(self, path: str, group):
        self.path, self.group = Path(path), group
        self.arrays: dict[str, Any] = {}

    def rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        if name not in self.arrays:
            self.arrays[name] = _ChunkRows.open(self.path / name) or self.group[name]
        array = self.arrays[name]
        try:
            return array.rows(rows) if isinstance(array, _ChunkRows) else array.oindex[rows]
        except (OSError, zstandard.ZstdError, DataError) as error:  # a chunk gone, cut short or damaged
            raise unreadable_stores([f"{self.path}: {name}: {error.__class__.__name__}: {error}"]) from error

    def __getitem__(self, name: str):
        return self.group[name]


class StreamingClips(Dataset):
    """``ClipDataset``'s items read per clip from the stores (see the module). An item is
    ``dataset[index]`` (the centre crop) or ``dataset[(index, key)]`` (augmented from
    ``(seed, *key)``), so a DataLoader's batch sampler can name both. Every store is opened
    when the dataset is made, so a missing or partial one stops a run before its first step,
    by name."""

    def __init__(self, clips: pd.DataFrame, seed: int = 0, crop_jitter: int | None = None, targets: str = "teacher", compact: bool = False):
        self.clips = clips.reset_index(drop=True)
        self._rows = list(self.clips.itertuples(index=False))  # a row by position in ~1 us, not pandas' ~150
        self.seed, self.crop_jitter, self.targets, self.compact = seed, crop_jitter, checked_targets(targets), compact
        self._stores: dict[str, _Arrays] = {}
        failed = []
        for path in self.clips.store.unique():
            try:
                self._store(path)
            except Exception as error:  # noqa: BLE001 - any open failure is the store's
                failed.append(str(error) if isinstance(error, DataError) else f"{path}: cannot open ({error.__class__.__name__}: {error})")
        if failed:
            raise unreadable_stores(failed)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_stores": {}}  # each worker opens its own

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, item) -> dict[str, torch.Tensor]:
        index, key = item if isinstance(item, tuple) else (item, None)
        return self._item(int(index), None if key is None else np.random.default_rng([self.seed, *key]))

    def augmented(self, index: int, key: tuple[int, ...]) -> dict[str, torch.Tensor]:
        return self[(index, key)]

    def batch(self, indices, keys=None) -> dict[str, torch.Tensor]:
        """Collated items; augmented with ``keys[i]`` when keys are given."""
        if keys is None:
            return default_collate([self[int(i)] for i in indices])
        return default_collate([self[(int(i), k)] for i, k in zip(indices, keys, strict=True)])

    def video_landmarks(self) -> tuple[list[np.ndarray], int]:
        """(each store's landmarks [T,68,2] as the heads learn them, the stores' frame side)."""
        shapes, side = [], 0
        for row in self.clips.drop_duplicates("store").itertuples():
            store = self._store(row.store)
            side = store["frames"].shape[-1]
            video = {"frames": None, "landmarks": store["landmarks"][:], "flow": np.zeros((0, 2, side, side), np.float16)}
            shapes.append(self._targets(video, row, np.zeros((0, 2), np.int64))["landmarks"])
        return shapes, side

    def _store(self, path: str) -> _Arrays:
        if path not in self._stores:
            self._stores[path] = _Arrays(path, open_store(path))
        return self._stores[path]

    def _targets(self, video: dict, row, pairs: np.ndarray | None) -> dict:
        if self.targets == "teacher":
            return video
        truth = getattr(row, "truth", None) if self.targets in EXACT_TARGETS else None
        return video_targets(video, self.targets, row.store, pairs, truth, int(getattr(row, "onset", 0)))

    def _item(self, index: int, rng: np.random.Generator | None) -> dict[str, torch.Tensor]:
        row = self._rows[index]
        store = self._store(row.store)
        frames_idx = np.asarray(row.frames, dtype=np.int64)
        pair_rows = np.asarray(row.pair_rows, dtype=np.int64)
        exact = self.targets in EXACT_TARGETS
        n_frames = store["landmarks"].shape[0] if exact else 0
        video: dict[str, Any] = {
            "frames": None,
            # exact landmarks come for every frame; the teachers' only for the clip's
            "landmarks": store.rows("landmarks", np.arange(n_frames) if exact else frames_idx[1:]),
            "flow": store.rows(f"flow/{row.flow}", pair_rows),
        }
        video = self._targets(video, row, store.rows(f"pairs/{row.flow}", pair_rows) if exact else None)
        landmarks = video["landmarks"][frames_idx[1:]] if exact else video["landmarks"]
        return clip_item(index, int(row.label), store.rows("frames", frames_idx), video["flow"], landmarks, rng, self.crop_jitter, self.compact)


class _Steps:
    """Batch sampler: the items of each step's batch, ``(index, (step, slot))``."""

    def __init__(self, plans: Sequence[np.ndarray], first_step: int):
        self.plans, self.first_step = plans, first_step

    def __len__(self) -> int:
        return len(self.plans)

    def __iter__(self):
        for offset, indices in enumerate(self.plans):
            step = self.first_step + offset
            yield [(int(i), (step, slot)) for slot, i in enumerate(indices)]


def step_batches(dataset: StreamingClips, plans: Sequence[np.ndarray], first_step: int, workers: int, pin: bool) -> Iterator[dict]:
    """The batches of steps ``first_step, first_step + 1, ...`` whose clip indices are
    ``plans``, read by ``workers`` processes (0: in this one), ``PREFETCH`` batches ahead
    each, pinned when ``pin``; compact (frames uint8, flow as stored): widen them with
    :func:`~mol_core.clips.data.expand_batch` where they are used."""
    compact = copy.copy(dataset)
    compact.compact = True
    loader = DataLoader(
        compact,
        batch_sampler=_Steps(plans, first_step),
        num_workers=workers,
        pin_memory=pin,
        prefetch_factor=PREFETCH if workers else None,
        generator=torch.Generator(),  # the workers' seeds from their own generator: the training's random state untouched
    )
    return iter(loader)
