"""CASME II: coding file ``CASME2-coding-20140508.xlsx`` or the owners' later
``CASME2-coding-20190701.xlsx`` (same rows and frames; revised AUs, three emotions changed
from sadness to surprise), or a CSV with the same columns; frames ``sub{NN}/{Filename}/
img{N}.jpg`` (raw) or ``reg_img{N}.jpg`` (cropped).

``root`` may be the dataset folder or its ``CASME2_RAW_selected`` / ``Cropped`` subfolder;
the coding file is looked for in ``root`` and its parent unless given (the 2014 file first:
the MEGC2019 composite list was made from it). ``check`` names the file read.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..util.text import counted
from .coding import Scan, find_coding_file, numbered_frames, read_coding_table, require_dir, scan_coded_videos

CODING_FILES = ["CASME2-coding-20140508.xlsx", "CASME2-coding-20140508.csv", "CASME2-coding-20190701.xlsx", "CASME2-coding-20190701.csv"]
COLUMNS = {
    "subject": "Subject",
    "video": "Filename",
    "onset": "OnsetFrame",
    "apex": "ApexFrame",
    "offset": "OffsetFrame",
    "emotion": "Estimated Emotion",
    "au": "Action Units",
}
FRAME_FOLDERS = ["", "CASME2_RAW_selected", "Cropped", "CASME2_RAW_selected/CASME2_RAW_selected", "Cropped/Cropped"]
FRAME_PATTERNS = {r"img(\d+)\.jpg": "img{N}.jpg (raw)", r"reg_img(\d+)\.jpg": "reg_img{N}.jpg (cropped)"}


def subject_folder(subject: str) -> str:
    """'1', '01' or 'sub01' -> 'sub01'."""
    digits = subject.lower().removeprefix("sub")
    return f"sub{int(digits):02d}" if digits.isdigit() else subject


def find_video_frames(root: Path, subject: str, video: str, layouts: Counter | None = None) -> dict[int, Path] | None:
    """{frame number: path} of a video (empty when its folder holds no frame file, None when
    there is no folder); ``layouts`` counts the layout each video was found in."""
    for folder in FRAME_FOLDERS:
        path = root / folder / subject / video
        if path.is_dir():
            for pattern, shown in FRAME_PATTERNS.items():
                frames = numbered_frames(path, pattern)
                if frames:
                    if layouts is not None:
                        layouts[f"{root / folder}/sub{{NN}}/{{Filename}}/{shown}"] += 1
                    return frames
            return {}
    return None


def scan_casme2(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "CASME II")
    coding = find_coding_file(root, coding, CODING_FILES, "CASME II")
    layouts: Counter = Counter()
    scan = scan_coded_videos(
        read_coding_table(coding, COLUMNS),
        COLUMNS,
        "casme2",
        classes,
        subject_folder,
        lambda coded: find_video_frames(root, coded.subject, coded.video, layouts),
    )
    scan.coding_files.append(str(coding))
    scan.frame_layouts += [f"{layout} (found for {counted(n, 'coded video')})" for layout, n in layouts.items()]
    return scan
