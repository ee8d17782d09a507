"""SAMM: coding file ``SAMM_Micro_FACS_Codes_v2.xlsx`` (title rows before the header row),
frames ``{Subject}/{Filename}/{Subject}_{NNNNN}.jpg``.

``root`` is the folder of the subject folders (``006``, ``007``, ...), or a folder holding
it as ``SAMM``; the coding file is looked for in ``root`` and its parent unless given.
"""

from __future__ import annotations

from pathlib import Path

from .coding import CodedVideo, Scan, find_coding_file, numbered_frames, read_coding_table, require_dir, scan_coded_videos

CODING_FILES = ["SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_Micro_FACS_Codes_v2.csv"]
COLUMNS = {
    "subject": "Subject",
    "video": "Filename",
    "onset": "Onset Frame",
    "apex": "Apex Frame",
    "offset": "Offset Frame",
    "emotion": "Estimated Emotion",
    "au": "Action Units",
}


def subject_name(subject: str) -> str:
    """'6' or '006' -> '006'."""
    return f"{int(subject):03d}" if subject.isdigit() else subject


def scan_samm(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "SAMM")
    coding = find_coding_file(root, coding, CODING_FILES, "SAMM")
    frames_root = root / "SAMM" if (root / "SAMM").is_dir() else root

    def frames_of(coded: CodedVideo):
        folder = frames_root / coded.subject / coded.video
        return numbered_frames(folder, rf"{coded.subject}_(\d+)\.jpg") if folder.is_dir() else None

    table = read_coding_table(coding, COLUMNS, find_header=True)
    scan = scan_coded_videos(table, COLUMNS, "samm", classes, subject_name, frames_of)
    scan.coding_files.append(str(coding))
    scan.frame_layouts.append(f"{frames_root}/{{Subject}}/{{Filename}}/{{Subject}}_{{NNNNN}}.jpg")
    return scan
