"""Render the frames of one synthetic video with its exact ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..util.geometry import pixel_grid
from .identity import Identity
from .motion import Motion


@dataclass
class RenderedVideo:
    """``frames`` uint8 BGR [N,H,W,3]; ``landmarks`` float32 [N,68,2] (x, y pixels);
    ``flow`` float32 [N-1,2,H,W]: for pair (k, k+1), channel 0 = x, 1 = y, and pixel y of
    frame k is found at y + flow[k][:, y] in frame k+1 (``I_k(y) = I_k+1(y + F(y))``);
    ``head`` float64 [N,2,3]: each frame's rigid head motion ``H_t`` (identity grid -> frame,
    without the expression)."""

    frames: np.ndarray
    landmarks: np.ndarray
    flow: np.ndarray
    head: np.ndarray


def render_video(identity: Identity, motion: Motion, noise_sigma: float, rng: np.random.Generator) -> RenderedVideo:
    """Every frame is sampled once from the source photos through phi_t^-1, so neutral and
    deformed frames share the same resampling blur; ``noise_sigma`` is sensor noise in grey
    levels (0-255), added after rendering."""
    grid = pixel_grid(identity.height, identity.width)
    n = motion.n_frames
    frames = np.empty((n, identity.height, identity.width, 3), np.uint8)
    landmarks = np.empty((n, 68, 2), np.float32)
    flow = np.empty((max(n - 1, 0), 2, identity.height, identity.width), np.float32)
    previous = None
    for t in range(n):
        coords = motion.inverse(t, grid)
        if previous is not None:
            flow[t - 1] = np.moveaxis(motion.forward(t, previous) - grid, -1, 0)
        previous = coords
        colour = identity.render(coords) * 255.0
        if noise_sigma > 0:
            colour = colour + rng.normal(0.0, noise_sigma, colour.shape)
        frames[t] = np.clip(np.round(colour), 0, 255).astype(np.uint8)
        landmarks[t] = motion.forward(t, identity.landmarks)
    head = np.stack([motion.head(t) for t in range(n)]) if n else np.zeros((0, 2, 3))
    return RenderedVideo(frames, landmarks, flow, head)
