"""CASME (I): the owners' two coding files ``Section A.xls`` (subjects 1-7) and
``Section B.xls`` (8-19), sheet ``Sheet1``, columns ``Subject, Filename, OnsetF, ApexF1,
OffsetF, AU, Emotion`` (others ignored); frames ``sub{XX}/{Filename}/{Filename}-{j}.jpg``
(j zero-padded to 3 in Section B; onset and offset count the same j), or
``reg_{Filename}-{j}.jpg`` in the owners' cropped release.

``root`` is the folder of the ``sub01``.. folders; both section files are looked for in
``root`` and its parent (also as .xlsx or .csv); ``coding`` reads one given file instead.
Reading .xls needs python-calamine or xlrd.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .coding import CodedVideo, Scan, find_coding_file, numbered_frames, read_coding_table, require_dir, scan_coded_videos

SECTIONS = {"Section A": ["Section A.xls", "Section A.xlsx", "Section A.csv"], "Section B": ["Section B.xls", "Section B.xlsx", "Section B.csv"]}
CODING_SHEET = "Sheet1"
COLUMNS = {"subject": "Subject", "video": "Filename", "onset": "OnsetF", "apex": "ApexF1", "offset": "OffsetF", "emotion": "Emotion", "au": "AU"}
FRAME_LAYOUT = "sub{XX}/{Filename}/{Filename}-{j}.jpg (cropped: reg_{Filename}-{j}.jpg)"


def subject_folder(subject: str) -> str:
    """'1', '1.0' or 'sub01' -> 'sub01'."""
    digits = subject.lower().removeprefix("sub").removesuffix(".0")
    return f"sub{int(digits):02d}" if digits.isdigit() else subject


def scan_casme(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "CASME")
    if not any(p.is_dir() for p in root.glob("sub[0-9]*")):
        raise DataError(f"CASME: no subject folders sub01, sub02, ... in {root}: expected {FRAME_LAYOUT}")
    files = (
        [find_coding_file(root, coding, [], "CASME")]
        if coding is not None
        else [find_coding_file(root, None, names, f"CASME {section}") for section, names in SECTIONS.items()]
    )

    def frames_of(coded: CodedVideo):
        folder = root / coded.subject / coded.file_video
        return numbered_frames(folder, rf"(?:reg_)?{re.escape(coded.file_video)}-(\d+)\.jpg") if folder.is_dir() else None

    scan = Scan(frame_layouts=[f"{root}/{FRAME_LAYOUT}"])
    for path in files:
        sheet = CODING_SHEET if path.suffix.lower() in (".xls", ".xlsx") else None
        scan.extend(scan_coded_videos(read_coding_table(path, COLUMNS, sheet=sheet), COLUMNS, "casme", classes, subject_folder, frames_of))
        scan.coding_files.append(str(path))
    return scan
