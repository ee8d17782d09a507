"""Datasets: one loader per dataset layout, all returning :class:`VideoRecord` lists.

``load(name, root, classes=None, coding=None)``; class maps live in ``label_maps.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MolError
from .labels import class_names, default_classes
from .records import VideoRecord, records_to_table, table_to_records
from .synthetic import load_synthetic

LOADERS = {"synthetic": load_synthetic}


def load(name: str, root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> list[VideoRecord]:
    """Video records of dataset ``name`` found under ``root`` (see each loader for the layout)."""
    if name not in LOADERS:
        raise MolError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    return LOADERS[name](root, classes=classes, coding=coding)


__all__ = ["LOADERS", "VideoRecord", "class_names", "default_classes", "load", "records_to_table", "table_to_records"]
