"""Loader of the embedded synthetic dataset (CASME II-like coding table and folders):
``coding.csv`` and ``{Subject}/{Filename}/img{N}.png``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..synthetic.layout import CODING_FILE, ground_truth_file
from .casme2 import COLUMNS  # the generator writes CASME II's coding columns
from .coding import CodedVideo, Scan, find_coding_file, numbered_frames, read_coding_table, require_dir, scan_coded_videos

RANDOM_MOTION = "random"  # the generator's 'Action Units' of `others` videos: no fixed AU


def scan_synthetic(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "synthetic dataset (generate it with `python -m mol_core.synthetic`)")
    coding = find_coding_file(root, coding, [CODING_FILE], "synthetic")

    def frames_of(coded: CodedVideo):
        folder = root / coded.subject / coded.video
        return numbered_frames(folder, r"img(\d+)\.png") if folder.is_dir() else None

    table = read_coding_table(coding, COLUMNS)
    table["au"] = table["au"].replace(RANDOM_MOTION, "")
    scan = scan_coded_videos(table, COLUMNS, "synthetic", classes, str, frames_of)
    truths = {r.key: ground_truth_file(root, r.subject, r.video) for r in scan.records}
    scan.records = [replace(r, truth=str(truths[r.key]) if truths[r.key].is_file() else None) for r in scan.records]
    scan.coding_files.append(str(coding))
    return scan
