"""CASME II: coding file ``CASME2-coding-20140508.xlsx`` or the owners' later
``CASME2-coding-20190701.xlsx`` (same rows and frames; revised AUs, three emotions changed
from sadness to surprise), or a CSV with the same columns; frames ``sub{NN}/{Filename}/
img{N}.jpg`` (raw) or ``reg_img{N}.jpg`` (cropped).

``root`` may be the dataset folder or its ``CASME2_RAW_selected`` / ``Cropped`` subfolder;
the coding file is looked for in ``root`` and its parent unless given (the 2014 file first:
the MEGC2019 composite list was made from it). ``check`` names the file read.
"""

from __future__ import annotations

from pathlib import Path

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
FRAME_PATTERNS = [r"img(\d+)\.jpg", r"reg_img(\d+)\.jpg"]


def subject_folder(subject: str) -> str:
    """'1', '01' or 'sub01' -> 'sub01'."""
    digits = subject.lower().removeprefix("sub")
    return f"sub{int(digits):02d}" if digits.isdigit() else subject


def find_video_frames(root: Path, subject: str, video: str) -> dict[int, Path] | None:
    for folder in FRAME_FOLDERS:
        path = root / folder / subject / video
        if path.is_dir():
            for pattern in FRAME_PATTERNS:
                frames = numbered_frames(path, pattern)
                if frames:
                    return frames
            return {}
    return None


def scan_casme2(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "CASME II")
    coding = find_coding_file(root, coding, CODING_FILES, "CASME II")
    scan = scan_coded_videos(
        read_coding_table(coding, COLUMNS),
        COLUMNS,
        "casme2",
        classes,
        subject_folder,
        lambda coded: find_video_frames(root, coded.subject, coded.video),
    )
    scan.coding_files.append(str(coding))
    return scan
