"""Clips: the sampling of t frames from a video, the clip index over a dataset's stores
(``python -m mol_core.clips``), and the torch dataset with its augmentation
(:mod:`mol_core.clips.data`, imported on its own so that this package needs no torch)."""

from .index import build_clip_index, video_clips
from .sampling import Sampling

__all__ = ["Sampling", "build_clip_index", "video_clips"]
