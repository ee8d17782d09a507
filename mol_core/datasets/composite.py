"""The MEGC2019 composite set: CASME II + SAMM + SMIC-HS in three classes (negative,
positive, surprise), 442 videos of 68 subjects (250/109/83), with the exclusions of
``facts.yaml``. Each record keeps its source as ``dataset``; subjects stay distinct
(``sub01``, ``006``, ``s01`` styles)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import DataError
from .casme2 import scan_casme2
from .coding import Scan
from .labels import class_names
from .samm import scan_samm
from .smic import scan_smic

SOURCES = {"casme2": scan_casme2, "samm": scan_samm, "smic": scan_smic}


def scan_composite(root: Mapping, classes: int | None = None, coding: Mapping | None = None) -> Scan:
    if not isinstance(root, Mapping) or set(root) != set(SOURCES):
        raise DataError(f"composite needs root = {{casme2: ..., samm: ..., smic: ...}}, got {root!r}")
    if classes not in (None, 3):
        raise DataError(f"the composite protocol has 3 classes, not {classes}")
    coding = coding or {}
    names = class_names("composite", 3)
    scan = Scan()
    for source, loader in SOURCES.items():
        part = loader(root[source], classes=3, coding=coding.get(source))
        if class_names(source, 3) != names:
            raise DataError(f"{source}: 3-class order {class_names(source, 3)} differs from the composite's {names}")
        part.records = [replace(r, dataset=source) for r in part.records]
        part.problems = [f"{source}: {p}" for p in part.problems]
        part.skipped = [replace(s, reason=f"{source}: {s.reason}") for s in part.skipped]
        part.corrections = [f"{source}: {c}" for c in part.corrections]
        part.notes = [f"{source}: {n}" for n in part.notes]
        part.left_out = {f"{source}: {k}": v for k, v in part.left_out.items()}
        scan.extend(part)
    return scan
