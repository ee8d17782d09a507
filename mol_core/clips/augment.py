"""Crops and flips applied consistently to frames, flow and landmarks of one clip.

Arrays: frames [T,H,W]; flow [P,2,H,W] (x, y components, pixels); landmarks [..,68,2]
(x, y pixels). Training takes a random 128 crop of the 144 crop (or one at most ``jitter``
pixels from the centre) and a random horizontal flip; evaluation takes the centre crop only.
"""

from __future__ import annotations

import numpy as np

from ..face68 import MIRROR


def crop(frames, flow, landmarks, x0: int, y0: int, size: int):
    """Cut a size x size window at (x0, y0) from every array; landmarks shift by (x0, y0)."""
    window = (slice(y0, y0 + size), slice(x0, x0 + size))
    return frames[(..., *window)], flow[(..., *window)], landmarks - np.array([x0, y0], landmarks.dtype)


def hflip(frames, flow, landmarks):
    """Mirror left-right: frames and flow reversed along x, the flow's x component negated,
    landmark x mirrored (``W-1-x``) and the points renumbered left<->right."""
    width = frames.shape[-1]
    frames = frames[..., ::-1]
    flow = flow[..., ::-1].copy()
    flow[:, 0] = -flow[:, 0]
    landmarks = landmarks[..., MIRROR, :].copy()
    landmarks[..., 0] = (width - 1) - landmarks[..., 0]
    return np.ascontiguousarray(frames), flow, landmarks


def centre_offset(side: int, size: int) -> int:
    """Where the centre ``size`` window of a ``side``-pixel axis starts (pixels)."""
    return (side - size) // 2


def _random_offset(rng: np.random.Generator, side: int, size: int, jitter: int | None) -> int:
    """A crop start along one axis: anywhere, or at most ``jitter`` pixels from the centre."""
    low, high = 0, side - size
    if jitter is not None:
        centre = centre_offset(side, size)
        low, high = max(low, centre - jitter), min(high, centre + jitter)
    return int(rng.integers(low, high + 1))


def augment(frames, flow, landmarks, size: int, rng: np.random.Generator | None, jitter: int | None = None):
    """Random crop + random flip when ``rng`` is given (training), else the centre crop.
    ``jitter``: the crop's largest shift from the centre (pixels); None: anywhere."""
    height, width = frames.shape[-2:]
    if rng is None:
        return crop(frames, flow, landmarks, centre_offset(width, size), centre_offset(height, size), size)
    x0, y0, flip = draw_augmentation(rng, height, width, size, jitter)
    frames, flow, landmarks = crop(frames, flow, landmarks, x0, y0, size)
    if flip:
        frames, flow, landmarks = hflip(frames, flow, landmarks)
    return frames, flow, landmarks


def draw_augmentation(rng: np.random.Generator, height: int, width: int, size: int, jitter: int | None = None) -> tuple[int, int, bool]:
    """(x0, y0, flip) of one training crop: the crop's top-left corner (pixels) and whether
    it is mirrored, drawn from ``rng`` in this order (every batch path draws them here)."""
    x0, y0 = _random_offset(rng, width, size, jitter), _random_offset(rng, height, size, jitter)
    return x0, y0, bool(rng.random() < 0.5)
