"""MMEW: the owners' coding file ``MMEW_Micro_Exp.xlsx`` (first sheet; columns ``Subject,
Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion, remarks``;
Subject a number), frames ``Micro_Expression/{emotion folder}/{Filename}/{n}.jpg`` (n from 1)
or, as the owners document it, ``{Subject}/{emotion folder}/{Filename}/{n}.jpg`` (subject
folder first: ``S03/happiness/S03-01-002/1.jpg``); the layout is detected. The emotion
folder is the emotion's name, except where facts.yaml's ``frame_folders`` says otherwise
(``others`` live in ``repression``).

``root`` holds ``Micro_Expression`` (or is it); the coding file is looked for in ``root``
and its parent unless given. Subjects are named ``S01``.. as the file names (``S03-01-002``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .coding import CodedVideo, Scan, child_folder, find_coding_file, numbered_frames, read_coding_table, require_dir, scan_coded_videos
from .labels import dataset_facts

CODING_FILES = ["MMEW_Micro_Exp.xlsx", "MMEW_Micro_Exp.csv"]
COLUMNS = {
    "subject": "Subject",
    "video": "Filename",
    "onset": "OnsetFrame",
    "apex": "ApexFrame",
    "offset": "OffsetFrame",
    "emotion": "Estimated Emotion",
    "au": "Action Units",
}
FRAME_LAYOUT = "Micro_Expression/{emotion folder}/{Filename}/{n}.jpg"
SUBJECT_FIRST_LAYOUT = "{Subject}/{emotion folder}/{Filename}/{n}.jpg"


def subject_name(subject: str) -> str:
    """'3', '3.0' or 'S03' -> 'S03'."""
    digits = subject.upper().removeprefix("S").removesuffix(".0")
    return f"S{int(digits):02d}" if digits.isdigit() else subject


def scan_mmew(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "MMEW")
    coding = find_coding_file(root, coding, CODING_FILES, "MMEW")
    frames_root = root / "Micro_Expression" if (root / "Micro_Expression").is_dir() else root
    folders = [p for p in frames_root.iterdir() if p.is_dir()]
    if not folders:
        raise DataError(f"MMEW: no emotion or subject folders in {frames_root}: expected {FRAME_LAYOUT} or {SUBJECT_FIRST_LAYOUT}")
    subject_first = any(re.fullmatch(r"S\d+", p.name, re.IGNORECASE) for p in folders)
    folder_of = dataset_facts("mmew").get("frame_folders", {})

    def frames_of(coded: CodedVideo):
        emotion = coded.emotion.strip().lower()
        parent = child_folder(frames_root, coded.subject) if subject_first else frames_root
        emotion_folder = child_folder(parent, folder_of.get(emotion, emotion)) if parent is not None else None
        video = child_folder(emotion_folder, coded.file_video) if emotion_folder is not None else None
        return numbered_frames(video, r"(\d+)\.jpg") if video is not None else None

    scan = scan_coded_videos(read_coding_table(coding, COLUMNS), COLUMNS, "mmew", classes, subject_name, frames_of)
    scan.coding_files.append(str(coding))
    layout = SUBJECT_FIRST_LAYOUT if subject_first else FRAME_LAYOUT.removeprefix("Micro_Expression/")
    scan.frame_layouts.append(f"{frames_root}/{layout}" + (" (subject folder first, as the owners document it)" if subject_first else ""))
    return scan
