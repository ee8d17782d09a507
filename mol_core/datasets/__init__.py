"""Datasets: one loader per dataset layout, all returning :class:`VideoRecord` lists.

``load(name, root, classes=None, coding=None)`` -> records (DataError listing every
problem found); ``scan(...)`` -> the records, the videos the protocol leaves out and every
problem, for ``python -m mol_core.datasets check``. Dataset facts live in ``facts.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import DataError, MolError
from .casme import scan_casme
from .casme2 import scan_casme2
from .casme3 import scan_casme3
from .coding import Scan
from .composite import scan_composite
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
}
MAX_PROBLEMS_SHOWN = 20


def scan(name: str, root, classes: int | None = None, coding=None) -> Scan:
    """Everything a loader finds, problems included (raises only when nothing can be read)."""
    if name not in LOADERS:
        raise MolError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    if classes is not None and name != "composite":
        class_names(name, classes)  # unknown protocol -> clear error
    return LOADERS[name](root if name == "composite" else Path(root), classes=classes, coding=coding)


def load(name: str, root, classes: int | None = None, coding=None) -> list[VideoRecord]:
    """Video records of dataset ``name`` under ``root`` (for ``composite``, a mapping
    {casme2: root, samm: root, smic: root}); ``label`` indexes ``class_names(name, classes)``."""
    result = scan(name, root, classes, coding)
    if result.problems:
        shown = "\n  ".join(result.problems[:MAX_PROBLEMS_SHOWN])
        more = len(result.problems) - MAX_PROBLEMS_SHOWN
        raise DataError(
            f"{name} at {root}: {len(result.problems)} problem(s); run `python -m mol_core.datasets check` "
            f"for the full list:\n  {shown}" + (f"\n  ... and {more} more" if more > 0 else "")
        )
    return result.records


__all__ = ["LOADERS", "Scan", "VideoRecord", "class_names", "default_classes", "load", "records_to_table", "scan", "table_to_records"]
