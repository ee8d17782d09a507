"""TV-L1 optical flow (OpenCV's Dual TV-L1) with parameters from the config."""

from __future__ import annotations

import cv2
import numpy as np

from ..store.keys import tvl1_params


def _create(params: dict):
    return cv2.optflow.DualTVL1OpticalFlow.create(
        tau=params["tau"],
        lambda_=params["lambda"],
        theta=params["theta"],
        nscales=int(params["nscales"]),
        warps=int(params["warps"]),
        epsilon=params["epsilon"],
        innnerIterations=int(params["inner_iterations"]),
        outerIterations=int(params["outer_iterations"]),
        scaleStep=params["scale_step"],
        gamma=params["gamma"],
        medianFiltering=int(params["median_filtering"]),
    )


def tvl1_flow(prev_uint8: np.ndarray, next_uint8: np.ndarray, **params) -> np.ndarray:
    """Flow float32 [2,H,W] (x then y, pixels) mapping each pixel of ``prev`` to its place in
    ``next``: ``prev(p) ~ next(p + flow[:, p])``. Inputs are grey uint8 [H,W] of equal size."""
    for name, image in (("prev", prev_uint8), ("next", next_uint8)):
        if image.dtype != np.uint8 or image.ndim != 2:
            raise ValueError(f"tvl1_flow: {name} must be a grey uint8 image [H,W], got {image.dtype} {image.shape}")
    if prev_uint8.shape != next_uint8.shape:
        raise ValueError(f"tvl1_flow: frame shapes differ: {prev_uint8.shape} vs {next_uint8.shape}")
    flow = _create(tvl1_params(**params)).calc(prev_uint8, next_uint8, None)
    return np.ascontiguousarray(np.moveaxis(flow, -1, 0), dtype=np.float32)
