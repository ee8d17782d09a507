"""Windows: long videos cut into short records before preprocessing (``datasets.<name>.windows``).

Aff-Wild2's labelled segments run to thousands of frames, and a uniform clip of t frames
spread over such a segment would sample frames seconds apart. Cutting each record into
windows of ``frames`` frames every ``stride`` frames, and keeping at most ``per_subject``
windows of a subject (for Aff-Wild2, whose subjects are its annotated faces: per video) and
``per_class`` of a class, sizes a pre-training to a budget: only the kept windows are
preprocessed (each is a record of its own, so its face is detected and aligned on its own
frames, not once for the whole video), and the clips are sampled inside them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError
from ..util.settings import from_fields
from .records import VideoRecord


@dataclass(frozen=True)
class WindowSettings:
    """``frames``: window length (frames); ``stride``: frames from one window's start to the
    next (default ``frames``: side by side); ``per_subject`` / ``per_class``: at most this
    many windows, spread evenly over the subject's (class's) windows in time order; None:
    all. A record shorter than ``frames`` gives no window."""

    frames: int
    stride: int | None = None
    per_subject: int | None = None
    per_class: int | None = None

    def __post_init__(self):
        for name in ("frames", "stride", "per_subject", "per_class"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"windows.{name} must be a whole number of at least 1, got {value!r}")

    @classmethod
    def from_dict(cls, values: dict) -> WindowSettings:
        return from_fields(cls, values, "windows")

    @property
    def step(self) -> int:
        return self.stride or self.frames


def window_record(record: VideoRecord, start: int, length: int) -> VideoRecord:
    """Frames ``start .. start+length-1`` (positions in ``record.frames``) as a record named
    ``{video}_{first frame number}``; frame numbers are the record's onset plus the position.
    The apex is kept when it falls inside the window."""
    onset = record.onset + start
    offset = onset + length - 1
    apex = record.apex if record.apex is not None and onset <= record.apex <= offset else None
    return replace(record, video=f"{record.video}_{onset}", onset=onset, apex=apex, offset=offset, frames=record.frames[start : start + length])


def _spread(items: list, limit: int | None) -> list:
    """At most ``limit`` of ``items``, evenly spaced, first and last included."""
    if limit is None or len(items) <= limit:
        return items
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))]


def cut_windows(records: list[VideoRecord], settings: WindowSettings) -> list[VideoRecord]:
    """Every record cut into windows, then capped per subject and per class (in that order),
    in the records' order. Deterministic: the same records give the same windows."""
    by_subject: dict[str, list[VideoRecord]] = {}
    for record in records:
        starts = range(0, len(record.frames) - settings.frames + 1, settings.step)
        by_subject.setdefault(record.subject, []).extend(window_record(record, s, settings.frames) for s in starts)
    kept = [w for windows in by_subject.values() for w in _spread(windows, settings.per_subject)]
    by_class: dict[str, list[VideoRecord]] = {}
    for window in kept:
        by_class.setdefault(window.emotion, []).append(window)
    chosen = {id(w) for windows in by_class.values() for w in _spread(windows, settings.per_class)}
    return [w for w in kept if id(w) in chosen]


def window_counts(before: list[VideoRecord], after: list[VideoRecord]) -> str:
    """One line: records and frames before, windows and frames kept, per class."""
    classes = sorted({r.emotion for r in before})
    kept = {c: sum(w.emotion == c for w in after) for c in classes}
    return (
        f"windows: {len(before)} records of {sum(len(r.frames) for r in before)} frames -> {len(after)} windows of "
        f"{sum(len(w.frames) for w in after)} frames ({', '.join(f'{c} {n}' for c, n in kept.items())})"
    )
