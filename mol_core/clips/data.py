"""Torch dataset of clips read from the per-video stores (cached in memory per video)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate

from ..errors import DataError
from ..store.zarr_store import open_store
from ..util.crop import CROP
from .augment import augment
from .targets import checked_targets, video_targets

REPAIR = (
    "run the workflow again (it rebuilds stores that are gone or damaged), or check the cache with "
    "`python -m mol_core.preprocess verify {cache} --remove` and rerun"
)


class ClipBatches(Protocol):
    """What evaluation and training read clips through: a clip table and its batches
    (:class:`ClipDataset`, :class:`~.device_batches.DeviceClips`,
    :class:`~.streaming.StreamingClips`)."""

    clips: pd.DataFrame

    def __len__(self) -> int: ...

    def batch(self, indices, keys=None) -> dict[str, torch.Tensor]: ...


def unreadable_stores(failed: list[str]) -> DataError:
    """One error naming every store that cannot be read (``failed``: "<store>: <why>" lines)
    and how to repair them."""
    cache = str(Path(failed[0].split(": ", 1)[0]).parent.parent)
    return DataError(f"{len(failed)} store(s) cannot be read:\n  " + "\n  ".join(failed) + "\nTo repair: " + REPAIR.format(cache=cache))


class StoreCache:
    """Whole-video arrays (frames, landmarks, one flow), loaded once per store, their flow and
    landmarks those of ``targets`` (:mod:`.targets`: the stores' teachers by default)."""

    def __init__(self, targets: str = "teacher"):
        self.targets = checked_targets(targets)
        self._videos: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self._truth: dict[str, tuple[object, int]] = {}  # store -> (exact ground truth file, onset)

    def get(self, path: str, flow: str) -> dict[str, np.ndarray]:
        key = (path, flow)
        if key not in self._videos:
            store = open_store(path)
            video = {
                "frames": store["frames"][:],
                "landmarks": store["landmarks"][:],
                "flow": store[f"flow/{flow}"][:],
            }
            if self.targets != "teacher":
                truth, onset = self._truth.get(path, (None, 0))
                video = video_targets(video, self.targets, path, store[f"pairs/{flow}"][:], truth, onset)
            self._videos[key] = video
        return self._videos[key]

    @property
    def nbytes(self) -> int:
        """Bytes of every cached array."""
        return sum(array.nbytes for video in self._videos.values() for array in video.values())

    def concatenate(self, flow_dtype=None) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], tuple[int, int]]]:
        """Every cached video in one array per kind, ``frames`` [N,H,W], ``landmarks``
        [N,68,2] and ``flow`` [P,2,H,W] (as ``flow_dtype``, default the stores'; videos in the
        order they were read), and where each (store, flow) starts in them: (first frame row,
        first pair row). From then on the cache holds views into these arrays, so nothing is
        held twice. ValueError when the videos' frame sizes differ."""
        keys = list(self._videos)
        sizes = {self._videos[key]["frames"].shape[1:] for key in keys}
        if len(sizes) > 1:
            raise ValueError(f"the videos' frames differ in size ({sorted(sizes)})")
        joined = {name: np.concatenate([self._videos[key][name] for key in keys]) for name in ("frames", "landmarks")}
        joined["flow"] = np.concatenate([self._videos[key]["flow"] for key in keys], dtype=flow_dtype)
        starts, frame_row, pair_row = {}, 0, 0
        for key in keys:
            video = self._videos[key]
            n_frames, n_pairs = len(video["frames"]), len(video["flow"])
            starts[key] = (frame_row, pair_row)
            self._videos[key] = {
                "frames": joined["frames"][frame_row : frame_row + n_frames],
                "landmarks": joined["landmarks"][frame_row : frame_row + n_frames],
                "flow": joined["flow"][pair_row : pair_row + n_pairs],
            }
            frame_row, pair_row = frame_row + n_frames, pair_row + n_pairs
        return joined, starts

    def load_all(self, clips: pd.DataFrame) -> None:
        """Read every (store, flow) of ``clips`` now; one DataError naming every store that
        cannot be read (absent, damaged, undecodable chunk) and how to repair it."""
        failed = []
        if "truth" in clips:
            for path, truth, onset in clips[["store", "truth", "onset"]].drop_duplicates("store").itertuples(index=False):
                self._truth[path] = (truth, int(onset))
        for path, flow in clips[["store", "flow"]].drop_duplicates().itertuples(index=False):
            try:
                self.get(path, flow)
            except Exception as error:  # noqa: BLE001 - any read failure is the store's
                failed.append(
                    f"{path}: {error}"
                    if isinstance(error, DataError)
                    else f"{path}: cannot read flow {flow} or its arrays ({error.__class__.__name__}: {error})"
                )
        if failed:
            raise unreadable_stores(failed)


class ClipDataset(Dataset):
    """Items: ``frames`` float [1,T,128,128] in [0,1]; ``flow`` float [T-1,2,128,128];
    ``landmarks`` float [T-1,68,2] (frames 1..T-1, crop pixels); ``label``; ``index`` (row).

    Every store of ``clips`` is read when the dataset is made (:meth:`StoreCache.load_all`),
    so an unreadable store stops a run before its first step, by name.
    ``dataset[i]`` is the centre crop (evaluation). ``dataset.augmented(i, key)`` draws a
    random crop and flip from ``(seed, *key)``, so a training step's batch is a pure
    function of the seed and the step (a resumed run sees exactly the same data).
    ``crop_jitter``: the random crop's largest shift from the centre (pixels; None: anywhere).
    """

    def __init__(self, clips: pd.DataFrame, seed: int = 0, cache: StoreCache | None = None, crop_jitter: int | None = None):
        self.clips = clips.reset_index(drop=True)
        self._rows = list(self.clips.itertuples(index=False))  # a row by position in ~1 us, not pandas' ~150
        self.seed, self.crop_jitter = seed, crop_jitter
        self.cache = cache or StoreCache()
        self.cache.load_all(self.clips)  # every store read before the first step, or a clear error

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self._item(index, None)

    def augmented(self, index: int, key: tuple[int, ...]) -> dict[str, torch.Tensor]:
        return self._item(index, np.random.default_rng([self.seed, *key]))

    def batch(self, indices, keys=None) -> dict[str, torch.Tensor]:
        """Collated items; augmented with ``keys[i]`` when keys are given."""
        if keys is None:
            return default_collate([self[int(i)] for i in indices])
        return default_collate([self.augmented(int(i), k) for i, k in zip(indices, keys, strict=True)])

    def video_landmarks(self) -> tuple[list[np.ndarray], int]:
        """(each store's landmarks [T,68,2] as the heads learn them, the stores' frame side)."""
        videos = [self.cache.get(r.store, r.flow) for r in self.clips.drop_duplicates("store").itertuples()]
        return [v["landmarks"] for v in videos], videos[0]["frames"].shape[-1]

    def _item(self, index: int, rng: np.random.Generator | None) -> dict[str, torch.Tensor]:
        row = self._rows[index]
        video = self.cache.get(row.store, row.flow)
        frames_idx = np.asarray(row.frames, dtype=np.int64)
        return clip_item(
            index,
            int(row.label),
            video["frames"][frames_idx],
            video["flow"][np.asarray(row.pair_rows, dtype=np.int64)],
            video["landmarks"][frames_idx[1:]],
            rng,
            self.crop_jitter,
        )


def clip_item(
    index: int, label: int, frames, flow, landmarks, rng: np.random.Generator | None, crop_jitter: int | None, compact: bool = False
) -> dict[str, torch.Tensor]:
    """One dataset item from a clip's arrays (frames uint8 [T,S,S], flow [T-1,2,S,S],
    landmarks [T-1,68,2]): the centre crop (``rng`` None) or a random crop and flip.
    ``compact``: frames stay uint8 and flow its stored dtype (a third of the bytes to move
    between processes and devices); :func:`expand_batch` makes the same values later."""
    frames, flow, landmarks = augment(frames, flow if compact else flow.astype(np.float32), landmarks, CROP, rng, crop_jitter)
    return {
        "frames": torch.from_numpy(np.ascontiguousarray(frames if compact else np.asarray(frames, np.float32) / 255.0)).unsqueeze(0),
        "flow": torch.from_numpy(np.ascontiguousarray(flow if compact else np.asarray(flow, np.float32))),
        "landmarks": torch.from_numpy(np.ascontiguousarray(landmarks, dtype=np.float32)),
        "label": torch.tensor(label),
        "index": torch.tensor(index),
    }


def expand_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A compact batch (:func:`clip_item`) as float32, on its device: frames / 255 and flow
    widened, the same float32 values the full items hold (one correctly rounded division)."""
    frames, flow = batch["frames"], batch["flow"]
    if frames.dtype == torch.uint8:
        frames = frames.to(torch.float32) / 255.0
    return {**batch, "frames": frames, "flow": flow.to(torch.float32)}
