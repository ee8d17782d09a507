"""Clip sampling: which frames of a video form each t-frame clip, and which frame pairs the
clips need flow for. Shared by preprocessing (flow is computed for exactly these pairs) and
the clip index.

``uniform`` (paper and authors' code): ``interval = n // t``; every offset ``j`` in
``[0, interval)`` gives one clip ``j, j + interval, ..., j + (t-1) * interval``. Videos with
fewer than ``t`` frames give no clip.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMES = ("uniform",)


@dataclass(frozen=True)
class Sampling:
    frames: int = 8  # t, frames per clip
    scheme: str = "uniform"

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown sampling scheme {self.scheme!r}; known: {', '.join(SCHEMES)}")
        if self.frames < 2:
            raise ValueError(f"a clip needs at least 2 frames, got frames={self.frames}")

    @property
    def name(self) -> str:
        """Name of this sampling inside a store (``flow/<name>``, ``pairs/<name>``)."""
        return f"{self.scheme}_t{self.frames}"

    def clips(self, n_frames: int) -> list[list[int]]:
        """Frame indices (0-based, into the video's frames) of every clip."""
        interval = n_frames // self.frames
        return [[j + m * interval for m in range(self.frames)] for j in range(interval)]

    def pairs(self, n_frames: int) -> list[tuple[int, int]]:
        """Sorted distinct (first, second) frame pairs of consecutive clip frames."""
        return sorted({(c[m], c[m + 1]) for c in self.clips(n_frames) for m in range(len(c) - 1)})
