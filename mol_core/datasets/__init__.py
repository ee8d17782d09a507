"""Datasets: one loader per dataset layout, all returning :class:`VideoRecord` lists.

``load(name, root, classes=None, coding=None, *, strict=False, exclude=())`` -> records
(a video with a problem of its own is skipped; DataError for a problem of the dataset
itself); ``scan(...)`` -> the records, the videos the protocol leaves out, the skipped videos
with their reasons, doubtful annotations and every problem, for ``python -m
mol_core.datasets check``. Dataset facts live in ``facts.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import DataError, MolError
from .affwild2 import scan_affwild2
from .casme import scan_casme
from .casme2 import scan_casme2
from .casme3 import scan_casme3
from .coding import Scan, SkippedVideo
from .composite import scan_composite
from .doubtful import FLAG_KINDS
from .folder import scan_folder
from .fourdme import scan_fourdme
from .labels import class_names, default_classes
from .mmew import scan_mmew
from .records import VideoRecord, records_to_table, table_to_records
from .samm import scan_samm
from .smic import scan_smic
from .synthetic import scan_synthetic

LOADERS: dict[str, Callable[..., Scan]] = {
    "synthetic": scan_synthetic,
    "casme2": scan_casme2,
    "samm": scan_samm,
    "smic": scan_smic,
    "composite": scan_composite,
    "folder": scan_folder,
    "casme3": scan_casme3,
    "casme": scan_casme,
    "mmew": scan_mmew,
    "fourdme": scan_fourdme,
    "affwild2": scan_affwild2,
}
MAX_PROBLEMS_SHOWN = 20


def scan(name: str, root, classes: int | None = None, coding=None, exclude=()) -> Scan:
    """Everything a loader finds, problems and skipped videos included (raises only when
    nothing can be read); records flagged with a kind in ``exclude`` (keys of
    :data:`FLAG_KINDS`) are moved to the skipped videos."""
    if name not in LOADERS:
        raise MolError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    if classes is not None and name != "composite":
        class_names(name, classes)  # unknown protocol -> clear error
    result = LOADERS[name](root if name == "composite" else Path(root), classes=classes, coding=coding)
    result.exclude(exclude)
    return result


def load(name: str, root, classes: int | None = None, coding=None, *, strict: bool = False, exclude=()) -> list[VideoRecord]:
    """Video records of dataset ``name`` under ``root`` (for ``composite``, a mapping
    {casme2: root, samm: root, smic: root}); ``label`` indexes ``class_names(name, classes)``.

    A video with a problem of its own (frames absent or with gaps, apex outside its range
    after errata, unknown emotion) is skipped, not fatal: ``scan`` lists it. DataError for a
    problem of the dataset itself, when no video at all could be loaded, or, with ``strict``,
    when any video was skipped."""
    result = scan(name, root, classes, coding, exclude)
    require_loadable(result, f"{name} at {root}", strict)
    return result.records


def require_loadable(result: Scan, what: str, strict: bool = False) -> None:
    """DataError listing the problems of a scan that ``load`` would refuse (see there)."""
    problems = list(result.problems)
    if strict:
        problems += [f"{skipped} (skipped; strict run)" for skipped in result.skipped]
    elif not result.records and result.skipped:
        problems += [f"{skipped} (skipped)" for skipped in result.skipped]
        problems.insert(0, f"no video could be loaded: all {len(result.skipped)} were skipped")
    if problems:
        shown = "\n  ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise DataError(
            f"{what}: {len(problems)} problem(s); run `python -m mol_core.datasets check` "
            f"for the full list:\n  {shown}" + (f"\n  ... and {more} more" if more > 0 else "")
        )


__all__ = [
    "FLAG_KINDS",
    "LOADERS",
    "Scan",
    "SkippedVideo",
    "VideoRecord",
    "class_names",
    "default_classes",
    "load",
    "records_to_table",
    "require_loadable",
    "scan",
    "table_to_records",
]
