"""TV-L1 optical flow (OpenCV's Dual TV-L1) with parameters from the config."""

from __future__ import annotations

import cv2
import numpy as np

# cv2.optflow.DualTVL1OpticalFlow_create's own defaults, under the names used in config.yaml.
TVL1_DEFAULTS = {
    "tau": 0.25,
    "lambda": 0.15,
    "theta": 0.3,
    "nscales": 5,
    "warps": 5,
    "epsilon": 0.01,
    "inner_iterations": 30,
    "outer_iterations": 10,
    "scale_step": 0.8,
    "gamma": 0.0,
    "median_filtering": 5,
}


def tvl1_params(**params) -> dict:
    """Defaults overridden by ``params``; unknown names are an error."""
    unknown = set(params) - set(TVL1_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown TV-L1 parameters {sorted(unknown)}; known: {', '.join(TVL1_DEFAULTS)}")
    return {**TVL1_DEFAULTS, **params}


def _create(params: dict):
    return cv2.optflow.DualTVL1OpticalFlow_create(
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
