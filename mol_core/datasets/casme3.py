"""CAS(ME)^3 part A: the owners' coding file ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``
(sheet ``label``; every cell is text), frames in either release:

- full release ``part_A/{Subject}/{Filename}/color/{n}.jpg`` (n: absolute frame number from 1);
- ME-clip release ``Part_A_ME_clip/frame/{Subject}_{Filename}_{Onset}/{n}.jpg``.

``root`` holds ``part_A`` or ``Part_A_ME_clip`` (or is one of them, or the clip release's
``frame`` folder); the coding file is looked for in ``root`` and its parent unless given.
Subjects keep the owners' names (``spNO.1``). One stimulus video (``Filename`` a-m) often holds
several MEs, so a video id is ``{Filename}_{Onset}`` (``a_355``). The known errors of the
file are corrected from ``facts.yaml`` (each with its source) and listed by ``check``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .coding import CodedVideo, Scan, child_folder, find_coding_file, numbered_frames, read_coding_table, require_dir, scan_coded_videos

CODING_FILES = ["cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", "cas(me)3_part_A_ME_label_JpgIndex_v2.csv"]
CODING_SHEET = "label"
COLUMNS = {"subject": "Subject", "video": "Filename", "onset": "Onset", "apex": "Apex", "offset": "Offset", "emotion": "emotion", "au": "AU"}
FRAME_PATTERN = r"(\d+)\.jpg"
FULL_RELEASE = "part_A/{Subject}/{Filename}/color/{n}.jpg"
CLIP_RELEASE = "Part_A_ME_clip/frame/{Subject}_{Filename}_{Onset}/{n}.jpg"


SUBJECT_FOLDER = re.compile(r"spno\.\d+", re.IGNORECASE)  # spNO.1; also spelled spNo.1
CLIP_FOLDER = re.compile(r"spno\.\d+_\w+_\d+", re.IGNORECASE)


def children(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def is_subject(folder: Path) -> bool:
    return SUBJECT_FOLDER.fullmatch(folder.name) is not None


def video_id(file_video: str, onset: int) -> str:
    """'a', 355 -> 'a_355': unique per ME where one stimulus video holds several."""
    return f"{file_video}_{onset}"


def frame_folders(root: Path):
    """(frames_of, layout name) of the release found under ``root``."""
    full = next((p for p in (root / "part_A", root) if any(is_subject(s) and any(s.glob("*/color")) for s in children(p))), None)
    if full is not None:

        def full_frames(coded: CodedVideo):
            subject = child_folder(full, coded.subject)
            video = child_folder(subject, coded.file_video) if subject is not None else None
            folder = video / "color" if video is not None else None
            return numbered_frames(folder, FRAME_PATTERN) if folder is not None and folder.is_dir() else None

        return full_frames, f"full release {full}/{FULL_RELEASE.removeprefix('part_A/')}"
    clips = next(
        (p for p in (root / "Part_A_ME_clip" / "frame", root / "frame", root) if any(CLIP_FOLDER.fullmatch(c.name) for c in children(p))), None
    )
    if clips is not None:

        def clip_frames(coded: CodedVideo):
            for onset in dict.fromkeys((coded.onset, coded.file_onset)):  # corrected onset first, then as written
                folder = child_folder(clips, f"{coded.subject}_{coded.file_video}_{onset}")
                if folder is not None:
                    return numbered_frames(folder, FRAME_PATTERN)
            return None

        return clip_frames, f"ME-clip release {clips}/{CLIP_RELEASE.removeprefix('Part_A_ME_clip/frame/')}"
    raise DataError(f"CAS(ME)^3 part A: no frames under {root}: expected {FULL_RELEASE} or {CLIP_RELEASE}")


def scan_casme3(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "CAS(ME)^3 part A")
    coding = find_coding_file(root, coding, CODING_FILES, "CAS(ME)^3 part A")
    frames_of, layout = frame_folders(root)
    sheet = CODING_SHEET if coding.suffix.lower() in (".xlsx", ".xls") else None
    scan = scan_coded_videos(read_coding_table(coding, COLUMNS, sheet=sheet), COLUMNS, "casme3", classes, str, frames_of, video_id=video_id)
    scan.coding_files.append(str(coding))
    scan.frame_layouts.append(layout)
    return scan
