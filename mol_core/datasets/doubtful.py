"""Doubtful annotations: flagged for ``check`` and the video table, never silently changed,
and left out only when a run asks for it (``exclude``).

Kinds (:data:`FLAG_KINDS`): the apex coded at the onset frame (an onset-to-apex flow would be
zero); an ME longer than :data:`OVERLONG_SECONDS` (ten times the half second that defines a
micro-expression: a coding slip more likely than an ME, but no source gives the right offset,
so every such ME is kept as coded, all alike); and the owners' published exception lists
(facts.yaml ``exceptions``: MEs whose apex face is occluded, damaged frames, frames of bad
quality), each with its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..util.text import number_range
from .labels import dataset_facts

OVERLONG_SECONDS = 5.0
FLAG_KINDS = {
    "apex_at_onset": "apex coded at the onset frame",
    "overlong": f"longer than {OVERLONG_SECONDS:g} s",
    "occluded_apex": "apex face occluded (owners' error list)",
    "damaged_frames": "frames that cannot be opened (owners' list)",
    "bad_quality_frames": "frames of bad quality (owners' list)",
}
FRAME_LISTS = ("damaged_frames", "bad_quality_frames")


@dataclass(frozen=True)
class Flag:
    """A doubtful annotation of a loaded video: ``kind`` (a key of :data:`FLAG_KINDS`) and
    what was found, with its source."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def doubtful_flags(dataset: str, subject: str, file_video: str, file_onset: int, onset: int, apex: int | None, offset: int) -> list[Flag]:
    """Every doubtful annotation of one coded video (``file_*`` as the coding file writes the
    row; ``onset``, ``apex``, ``offset`` after errata)."""
    facts = dataset_facts(dataset)
    flags = []
    if apex is not None and apex == onset:
        flags.append(Flag("apex_at_onset", f"apex = onset = frame {onset}"))
    frames = offset - onset + 1
    if "fps" in facts and frames / facts["fps"] > OVERLONG_SECONDS:
        flags.append(Flag("overlong", f"{frames} frames = {frames / facts['fps']:.1f} s at {facts['fps']} fps, kept as coded"))
    exceptions = facts.get("exceptions", {})
    occluded = exceptions.get("occluded_apex")
    if occluded and [subject, file_video, file_onset] in occluded["rows"]:
        flags.append(Flag("occluded_apex", occluded["source"]))
    for kind in FRAME_LISTS:
        listed = exceptions.get(kind)
        ranges = listed["frames"].get(f"{subject} {file_video}", []) if listed else []
        hit = [n for first, last in ranges for n in range(max(first, onset), min(last, offset) + 1)]
        if hit:
            flags.append(Flag(kind, f"{len(hit)} of its {frames} frames listed, {number_range(hit)} ({listed['source']})"))
    return flags
