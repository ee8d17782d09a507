"""Batches cut on the training device: a fold's arrays held there once, crops and flips
done with tensor indexing.

:class:`DeviceArrays` holds every video of a :class:`~mol_core.clips.data.StoreCache` as
three tensors on one device (on the CPU they share the cache's memory): frames uint8
[N,H,W], flow [P,2,H,W] (on CUDA the stores' dtype, float16 by default; on the CPU float32,
twice the memory, so that a batch's flow is copied without a conversion, which the CPU does
several times slower than the copy), landmarks float32 [N,68,2]. :class:`DeviceClips` cuts a
:class:`~mol_core.clips.data.ClipDataset`'s batches from them: the same items, bitwise, as
``ClipDataset.batch`` (crop offsets and flips drawn by the same generator calls from
``(seed, *key)``, the same float32 operations in the same order), already on the device.
:func:`device_batches` chooses between the two paths: the device's when the arrays fit it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..face68 import MIRROR
from ..util.crop import CROP
from ..util.device import to_device
from .augment import centre_offset, draw_augmentation
from .data import ClipDataset, StoreCache

DEVICE_SHARE = 0.5  # at most this share of a CUDA device's free memory holds a fold's arrays


@dataclass(frozen=True)
class DeviceArrays:
    """A cache's videos on ``device``: ``frames`` uint8 [N,H,W], ``flow`` [P,2,H,W] (pixels;
    float32 on the CPU, the stores' dtype elsewhere), ``landmarks`` float32 [N,68,2] (x, y
    pixels), and ``starts``: (store, flow) -> (first frame row, first pair row)."""

    frames: torch.Tensor
    flow: torch.Tensor
    landmarks: torch.Tensor
    starts: dict[tuple[str, str], tuple[int, int]]

    @classmethod
    def from_cache(cls, cache: StoreCache, device: torch.device) -> DeviceArrays:
        joined, starts = cache.concatenate(np.float32 if device.type == "cpu" else None)
        move = lambda array: torch.from_numpy(array).to(device)  # noqa: E731 - on the CPU: no copy
        return cls(move(joined["frames"]), move(joined["flow"]), move(joined["landmarks"]), starts)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.frames, self.flow, self.landmarks))

    @property
    def device(self) -> torch.device:
        return self.frames.device


@dataclass(frozen=True)
class Fit:
    """Whether a fold's arrays (``nbytes``) go on ``device``; ``free``: its free bytes
    (None on the CPU, where the arrays are in memory already)."""

    fits: bool
    nbytes: int
    free: int | None

    def describe(self, device: torch.device) -> str:
        size = f"{self.nbytes / 2**30:.2f} GiB"
        if self.free is None:
            return f"batches cut on {device} from the fold's arrays ({size}; flow as float32, shared with the store cache)"
        if self.fits:
            return f"batches cut on {device} from the fold's arrays ({size} of {self.free / 2**30:.1f} GiB free)"
        return (
            f"the fold's arrays ({size}) exceed {DEVICE_SHARE:.0%} of {device}'s free memory "
            f"({self.free / 2**30:.1f} GiB): batches cut per clip on the CPU instead (slower)"
        )


def device_fit(nbytes: int, device: torch.device, share: float = DEVICE_SHARE) -> Fit:
    """Whether ``nbytes`` of arrays fit on ``device``: always on the CPU; on CUDA within
    ``share`` of the free memory (the rest is the model's: weights, activations, optimiser)."""
    if device.type != "cuda":
        return Fit(True, nbytes, None)
    free, _ = torch.cuda.mem_get_info(device)
    return Fit(nbytes <= share * free, nbytes, free)


def draw_augmentations(seed: int, keys, height: int, width: int, size: int, jitter: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x0 [B], y0 [B], flip [B]) of the training crops of ``keys``, each drawn from
    ``default_rng([seed, *key])`` exactly as :meth:`ClipDataset.augmented` draws it."""
    draws = [draw_augmentation(np.random.default_rng([seed, *key]), height, width, size, jitter) for key in keys]
    x0, y0, flip = zip(*draws, strict=True) if draws else ((), (), ())
    return np.array(x0, np.int64), np.array(y0, np.int64), np.array(flip, bool)


class DeviceClips:
    """``ClipDataset``'s items cut on the device: ``batch(indices, keys=None)`` returns
    ``frames`` float32 [B,1,T,128,128] in [0,1], ``flow`` float32 [B,T-1,2,128,128],
    ``landmarks`` float32 [B,T-1,68,2] (frames 1..T-1, crop pixels), ``label`` and ``index``
    int64 [B], on ``arrays.device``; with ``keys`` a random crop and flip per clip from
    ``(seed, *key)``, without them the centre crop. ``clips`` and ``len`` as the dataset's."""

    def __init__(self, dataset: ClipDataset, arrays: DeviceArrays):
        self.clips, self.seed, self.crop_jitter, self.arrays = dataset.clips, dataset.seed, dataset.crop_jitter, arrays
        device = arrays.device
        starts = [arrays.starts[(row.store, row.flow)] for row in self.clips.itertuples()]
        frame_rows = [np.asarray(f, np.int64) + s[0] for f, s in zip(self.clips.frames, starts, strict=True)]
        pair_rows = [np.asarray(p, np.int64) + s[1] for p, s in zip(self.clips.pair_rows, starts, strict=True)]
        self._frame_slices = [_as_slice(rows) for rows in frame_rows]  # the CPU's row views (None: a selection)
        self._pair_slices = [_as_slice(rows) for rows in pair_rows]
        shape = (0, 0)
        self.frame_rows = torch.from_numpy(np.stack(frame_rows) if frame_rows else np.zeros(shape, np.int64)).to(device)
        self.pair_rows = torch.from_numpy(np.stack(pair_rows) if pair_rows else np.zeros(shape, np.int64)).to(device)
        self.labels = torch.tensor(self.clips.label.to_numpy(np.int64) if len(self.clips) else [], dtype=torch.int64, device=device)
        self.height, self.width = arrays.frames.shape[-2:]
        self._span = torch.arange(CROP, device=device)
        self._mirror = torch.as_tensor(np.asarray(MIRROR), dtype=torch.int64, device=device)

    def __len__(self) -> int:
        return len(self.clips)

    def batch(self, indices, keys=None) -> dict[str, torch.Tensor]:
        """The clips ``indices``, augmented with ``keys[i]`` when keys are given."""
        indices = np.asarray(list(indices), np.int64)
        if keys is None:
            x0 = np.full(len(indices), centre_offset(self.width, CROP), np.int64)
            y0 = np.full(len(indices), centre_offset(self.height, CROP), np.int64)
            flip = np.zeros(len(indices), bool)
        else:
            x0, y0, flip = draw_augmentations(self.seed, keys, self.height, self.width, CROP, self.crop_jitter)
        return self.cut(indices, x0, y0, flip)

    def cut(self, indices: np.ndarray, x0: np.ndarray, y0: np.ndarray, flip: np.ndarray, method: str | None = None) -> dict[str, torch.Tensor]:
        """The clips ``indices`` [B] cropped at (x0, y0) [B] (pixels) and mirrored where
        ``flip`` [B] (bool); flow x negated and landmarks mirrored (``127 - x``) and renumbered
        (MIRROR) where flipped. ``method``: ``"gather"`` (one indexing op per array, the
        default on CUDA) or ``"slices"`` (one strided copy per clip and array, the default on
        the CPU, where a gather costs several times a copy per element); both give the same bits."""
        method = method or ("gather" if self.arrays.device.type == "cuda" else "slices")
        device = self.arrays.device
        rows = to_device(torch.from_numpy(indices), device)
        frame_rows, pair_rows = self.frame_rows[rows], self.pair_rows[rows]  # [B,T], [B,T-1]
        if method == "gather":
            frames, flow = self._gather(frame_rows, pair_rows, x0, y0, flip)
        elif method == "slices":
            frames, flow = self._slices(indices, x0, y0, flip)
        else:
            raise ValueError(f"method must be 'gather' or 'slices', got {method!r}")
        flipped = to_device(torch.from_numpy(flip), device)
        offsets = to_device(torch.from_numpy(np.stack([x0, y0], 1)), device).float()  # [B,2]
        landmarks = self.arrays.landmarks[frame_rows[:, 1:]] - offsets[:, None, None, :]
        mirrored = landmarks[:, :, self._mirror]
        mirrored[..., 0] = (CROP - 1) - mirrored[..., 0]
        landmarks = torch.where(flipped[:, None, None, None], mirrored, landmarks)
        return {
            "frames": frames.float().div_(255.0).unsqueeze(1),
            "flow": flow,
            "landmarks": landmarks,
            "label": self.labels[rows],
            "index": rows,
        }

    def _gather(self, frame_rows, pair_rows, x0, y0, flip) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames uint8 [B,T,128,128] and flow float32 [B,T-1,2,128,128] (x negated where
        flipped), each one advanced-indexing gather (x read backwards where flipped)."""
        device, arrays = self.arrays.device, self.arrays
        x0_t, y0_t = torch.from_numpy(x0).to(device), torch.from_numpy(y0).to(device)
        flipped = torch.from_numpy(flip).to(device)
        ys = y0_t[:, None] + self._span  # [B,128] rows of the crop
        xs = torch.where(flipped[:, None], x0_t[:, None] + (CROP - 1) - self._span, x0_t[:, None] + self._span)
        frames = arrays.frames[frame_rows[:, :, None, None], ys[:, None, :, None], xs[:, None, None, :]]
        components = torch.arange(2, device=device)[None, None, :, None, None]
        flow = arrays.flow[pair_rows[:, :, None, None, None], components, ys[:, None, None, :, None], xs[:, None, None, None, :]].float()
        flow[:, :, 0] = torch.where(flipped[:, None, None, None], -flow[:, :, 0], flow[:, :, 0])
        return frames, flow

    def _slices(self, indices, x0, y0, flip) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`_gather`, by one strided copy (flipped where asked) per clip and array,
        from a view of its rows where they are evenly spaced (the usual sampling), else from
        a selection of them."""
        arrays = self.arrays
        n, t, p = len(indices), self.frame_rows.shape[1], self.pair_rows.shape[1]
        frames = torch.empty((n, t, CROP, CROP), dtype=torch.uint8, device=arrays.device)
        flow = torch.empty((n, p, 2, CROP, CROP), dtype=torch.float32, device=arrays.device)
        for b, index in enumerate(indices):
            window = (..., slice(int(y0[b]), int(y0[b]) + CROP), slice(int(x0[b]), int(x0[b]) + CROP))
            for out, source, rows, views in (
                (frames, arrays.frames, self.frame_rows, self._frame_slices),
                (flow, arrays.flow, self.pair_rows, self._pair_slices),
            ):
                view = views[index]
                crop = (source[view] if view is not None else source.index_select(0, rows[index]))[window]
                out[b].copy_(crop.flip(-1) if flip[b] else crop)
            if flip[b]:
                flow[b, :, 0].neg_()
        return frames, flow


def _as_slice(rows: np.ndarray) -> slice | None:
    """``rows`` as a slice when they are evenly spaced and increasing, else None."""
    steps = np.diff(rows)
    if len(rows) == 0 or (len(steps) and (steps[0] <= 0 or (steps != steps[0]).any())):
        return None
    return slice(int(rows[0]), int(rows[-1]) + 1, int(steps[0]) if len(steps) else 1)


def device_batches(datasets: list[ClipDataset], device: torch.device, log=print, enabled: bool = True) -> list[ClipDataset | DeviceClips]:
    """Batchers for ``datasets`` (which share one StoreCache): :class:`DeviceClips` on
    ``device`` when ``enabled`` and the cache's arrays fit there (:func:`device_fit`),
    else the datasets themselves (batches cut per clip on the CPU); the choice is logged."""
    cache = datasets[0].cache
    if any(d.cache is not cache for d in datasets):
        raise ValueError("device_batches needs datasets that share one StoreCache")
    if not enabled:
        log(f"batches cut per clip on the CPU (data_on_device: false; training on {device})")
        return list(datasets)
    fit = device_fit(cache.nbytes, device)
    if not fit.fits:
        log(fit.describe(device))
        return list(datasets)
    try:
        arrays = DeviceArrays.from_cache(cache, device)
    except (ValueError, torch.cuda.OutOfMemoryError) as error:
        log(f"batches cut per clip on the CPU: the fold's arrays cannot go on {device} ({error})")
        return list(datasets)
    log(Fit(True, arrays.nbytes, fit.free).describe(device))
    return [DeviceClips(d, arrays) for d in datasets]
