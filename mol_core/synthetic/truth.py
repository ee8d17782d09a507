"""Exact ground truth of a synthetic video mapped into a store's aligned crop.

The store's crop is ``crop(u) = frame(S^-1 u)`` for the similarity ``S`` in its
``transform`` attribute, so a frame flow ``F`` becomes ``A F(S^-1 u)`` (``A`` = linear part
of ``S``) and landmarks map through ``S``.
"""

from __future__ import annotations

import numpy as np

from ..util.geometry import apply_affine, bilinear_sample, invert_affine, pixel_grid


def compose_flow(flows: np.ndarray, first: int, last: int) -> np.ndarray:
    """Flow [H,W,2] from frame ``first`` to frame ``last`` by chaining the consecutive flows
    [N-1,2,H,W]: each pixel is carried pair by pair."""
    height, width = flows.shape[-2:]
    grid = pixel_grid(height, width)
    position = grid.copy()
    for k in range(first, last):
        position = position + bilinear_sample(np.moveaxis(flows[k].astype(np.float64), 0, -1), position)
    return position - grid


def flow_in_crop(flow: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """Frame flow [H,W,2] -> crop flow [2,size,size] (x, y) under the crop transform [2,3]."""
    frame_points = apply_affine(invert_affine(transform), pixel_grid(size, size))
    vectors = bilinear_sample(flow, frame_points)
    return np.moveaxis(vectors @ np.asarray(transform)[:, :2].T, -1, 0)


def ground_truth_in_crop(gt: dict, transform, size: int, first_frame_index: int, n_frames: int, pairs) -> dict[str, np.ndarray]:
    """Exact ``flow`` [P,2,size,size] for store pairs [P,2] and ``landmarks`` [T,68,2] of the
    store's ``n_frames`` frames, in crop pixels. ``first_frame_index`` is the position of the
    store's first frame in the ground truth (the number of frames before the onset)."""
    transform = np.asarray(transform, dtype=np.float64)
    flows = (
        np.stack(
            [flow_in_crop(compose_flow(gt["flow"], first_frame_index + a, first_frame_index + b), transform, size) for a, b in np.asarray(pairs)]
        )
        if len(pairs)
        else np.zeros((0, 2, size, size))
    )
    landmarks = apply_affine(transform, gt["landmarks"][first_frame_index : first_frame_index + n_frames])
    return {"flow": flows.astype(np.float32), "landmarks": landmarks.astype(np.float32)}
