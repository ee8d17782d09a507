"""What the flow and landmark heads learn from (``train.targets``; issue 29).

- ``teacher`` (the paper's): the stores' TV-L1 flow and dlib landmarks.
- ``residual``: the TV-L1 flow with each pair's global motion removed: the least-squares
  affine flow field of the pair (6 parameters, fitted over every pixel) subtracted, so that
  the head and alignment drift that dominates a micro-expression's flow (95% of its energy
  on the hard synthetic preset) no longer does. Landmarks stay dlib's.
- ``exact`` (synthetic set only): the generator's exact flow and landmarks, under the store's
  alignment: the teachers' noise removed, the task unchanged.
- ``expression`` (synthetic set only): the exact expression-only flow (head motion removed
  exactly) and the exact landmarks.

Every option yields the same arrays as the stores (flow [P,2,S,S] for the store's pairs,
landmarks [T,68,2] in store pixels), so batches, crops and flips are unchanged.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ..errors import DataError
from ..store.zarr_store import open_store, stored_transforms

TARGETS = ("teacher", "residual", "exact", "expression")
EXACT_TARGETS = ("exact", "expression")


def checked_targets(targets: str) -> str:
    """``targets`` if it is one of :data:`TARGETS`, else ValueError."""
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
    return targets


@functools.lru_cache(maxsize=4)
def _affine_projection(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(basis [H*W,3] of 1, x, y; its pseudo-inverse [3,H*W]) of the affine fields."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    basis = np.stack([np.ones(height * width), xs.ravel() / width, ys.ravel() / height], 1)
    return basis, np.linalg.pinv(basis)


def global_motion(flow: np.ndarray) -> np.ndarray:
    """Each pair's least-squares affine flow field, flow [P,2,H,W] -> [P,2,H,W] float32:
    for each of x and y, the plane a + b x + c y closest to it over every pixel."""
    pairs, _, height, width = flow.shape
    basis, inverse = _affine_projection(height, width)
    fitted = np.empty(flow.shape, np.float32)
    for pair in range(pairs):  # one pair at a time: the same bits whichever pairs are read together
        fields = flow[pair].reshape(2, height * width).astype(np.float64)
        fitted[pair] = ((fields @ inverse.T) @ basis.T).reshape(2, height, width)
    return fitted


def without_global_motion(flow: np.ndarray) -> np.ndarray:
    """``flow`` [P,2,H,W] minus :func:`global_motion`, in ``flow``'s dtype."""
    return (flow.astype(np.float32) - global_motion(flow)).astype(flow.dtype)


@functools.lru_cache(maxsize=64)
def exact_truth(truth: str, onset: int, store_path: str):
    """The exact ground truth of a store's video (its file ``truth``; the store's frame 0 is
    frame number ``onset``) and what places it in the crop: (ground truth, the onset's row
    in it, the store's alignment transforms, frame count, crop side)."""
    from ..synthetic.layout import read_ground_truth

    store = open_store(store_path)
    gt = read_ground_truth(truth)
    rows = np.flatnonzero(gt["frame_numbers"] == onset)
    if not len(rows):
        raise DataError(f"{truth}: has no frame {onset}, the onset of the clip index's video {store_path}")
    n_frames = store["frames"].shape[0]
    return gt, int(rows[0]), stored_transforms(store.attrs, n_frames), n_frames, store["frames"].shape[-1]


def exact_video_targets(truth, onset: int, store_path: str, pairs: np.ndarray, expression: bool) -> dict[str, np.ndarray]:
    """Exact ``flow`` [P,2,S,S] of the store's ``pairs`` [P,2] (the expression-only flow with
    ``expression``) and ``landmarks`` [T,68,2] of all its frames, in store pixels. DataError
    where the clip index names no ground truth (a dataset other than the synthetic one)."""
    from ..synthetic.truth import ground_truth_in_crop

    if truth is None or pd.isna(truth):
        raise DataError(f"{store_path}: train.targets exact/expression needs the synthetic set's exact ground truth; this video has none")
    gt, offset, transforms, n_frames, side = exact_truth(str(truth), int(onset), str(store_path))
    exact = ground_truth_in_crop(gt, transforms, side, offset, n_frames, pairs, expression=expression)
    return {"flow": exact["expression_flow" if expression else "flow"], "landmarks": exact["landmarks"]}


def video_targets(
    video: dict[str, np.ndarray], targets: str, store_path: str, pairs: np.ndarray | None, truth=None, onset: int = 0
) -> dict[str, np.ndarray]:
    """A store's arrays (``frames``, ``landmarks``, ``flow``) with its flow and landmarks
    replaced by the ``targets`` option's; the flow keeps the store's dtype."""
    if targets == "teacher":
        return video
    if targets == "residual":
        return {**video, "flow": without_global_motion(video["flow"])}
    checked_targets(targets)  # exact or expression from here
    if pairs is None:
        raise ValueError("exact targets need the store's pairs")
    exact = exact_video_targets(truth, onset, store_path, pairs, expression=targets == "expression")
    return {**video, "flow": exact["flow"].astype(video["flow"].dtype), "landmarks": exact["landmarks"].astype(video["landmarks"].dtype)}
