"""Clip sampling: which frames of a video form each t-frame clip, and which frame pairs the
clips need flow for. Shared by preprocessing (flow is computed for exactly these pairs) and
the clip index.

``uniform`` (paper and authors' code): ``interval = n // t``; every offset ``j`` in
``[0, interval)`` gives one clip ``j, j + interval, ..., j + (t-1) * interval``. Videos with
fewer than ``t`` frames give no clip.

``onset_apex`` (Table 13, t=2): one clip of the onset and the apex frame; videos without
an apex annotation (or with the apex at the onset) give no clip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError
from ..util.settings import from_fields

SCHEMES = ("uniform", "onset_apex")


@dataclass(frozen=True)
class Sampling:
    frames: int = 8  # t, frames per clip
    scheme: str = "uniform"

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ConfigError(f"unknown sampling scheme {self.scheme!r}; known: {', '.join(SCHEMES)}")
        if self.frames < 2:
            raise ConfigError(f"a clip needs at least 2 frames, got frames={self.frames}")
        if self.scheme == "onset_apex" and self.frames != 2:
            raise ConfigError(f"onset_apex clips have 2 frames, not {self.frames}")

    @property
    def name(self) -> str:
        """Name of this sampling (``uniform_t8``), also used in paths."""
        return f"{self.scheme}_t{self.frames}"

    @classmethod
    def from_dict(cls, values: dict) -> Sampling:
        """From the ``sampling`` section of config.yaml (ConfigError for unknown keys)."""
        return from_fields(cls, values, "sampling settings")

    @classmethod
    def from_name(cls, name: str) -> Sampling:
        match = re.fullmatch(r"(\w+?)_t(\d+)", name)
        if not match:
            raise ConfigError(f"not a sampling name: {name!r} (expected like uniform_t8)")
        return cls(frames=int(match.group(2)), scheme=match.group(1))

    def clips(self, n_frames: int, apex_index: int | None = None) -> list[list[int]]:
        """Frame indices (0-based, into the video's frames) of every clip. ``apex_index``:
        the apex's position in the video's frames (onset_apex only)."""
        if self.scheme == "onset_apex":
            return [[0, apex_index]] if apex_index is not None and 0 < apex_index < n_frames else []
        interval = n_frames // self.frames
        return [[j + m * interval for m in range(self.frames)] for j in range(interval)]

    def pairs(self, n_frames: int, apex_index: int | None = None) -> list[tuple[int, int]]:
        """Sorted distinct (first, second) frame pairs of consecutive clip frames."""
        return sorted({(c[m], c[m + 1]) for c in self.clips(n_frames, apex_index) for m in range(len(c) - 1)})

    def why_no_clip(self, n_frames: int, apex_index: int | None = None) -> str:
        """The reason a video gives no clip ('' when it gives some)."""
        if self.clips(n_frames, apex_index):
            return ""
        if self.scheme == "onset_apex":
            return "no apex annotation after the onset" if apex_index is None or apex_index <= 0 else "apex outside the frames"
        return f"only {n_frames} frames, fewer than the clip length t={self.frames}"
