"""Loader of the embedded synthetic dataset (CASME II-like coding table and folders):
``coding.csv`` and ``{Subject}/{Filename}/img{N}.png``."""

from __future__ import annotations

from pathlib import Path

from ..synthetic.generate import CODING_FILE
from .coding import Scan, add_annotated_video, find_coding_file, frame_int, numbered_frames, read_coding_table, require_dir

COLUMNS = {"subject": "Subject", "video": "Filename", "onset": "OnsetFrame", "apex": "ApexFrame",
           "offset": "OffsetFrame", "emotion": "Estimated Emotion"}


def scan_synthetic(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "synthetic dataset (generate it with `python -m mol_core.synthetic`)")
    coding = find_coding_file(root, coding, [CODING_FILE], "synthetic")
    scan = Scan()
    for row in read_coding_table(coding, COLUMNS).itertuples(index=False):
        name = f"{row.subject}/{row.video}"
        try:
            onset, offset = frame_int(row.onset, "OnsetFrame"), frame_int(row.offset, "OffsetFrame")
            apex = frame_int(row.apex, "ApexFrame", allow_missing=True)
        except ValueError as error:
            scan.problems.append(f"{name}: {error}")
            continue
        folder = root / row.subject / row.video
        frames = numbered_frames(folder, r"img(\d+)\.png") if folder.is_dir() else None
        add_annotated_video(scan, "synthetic", classes, row.subject, row.video, row.emotion, onset, apex, offset, frames)
    return scan
