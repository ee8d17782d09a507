"""SMIC-HS: labels from the folder layout ``HS/s{N}/micro/{positive,negative,surprise}/
{video}/image{N}.bmp`` (raw) or ``reg_image{N}.bmp`` (the owners' cropped release,
``SMIC_all_cropped/HS/...``); no onset/apex/offset annotation, so a video is all its frames
(onset and offset are its first and last frame numbers, apex is None). A video whose frame
numbers have a gap is skipped (listed with the reason), not the dataset.

``root`` may be the SMIC folder (holding ``HS``, ``SMIC_all_cropped/HS`` or
``SMIC_all_raw/HS``) or ``HS`` itself. Subjects are named ``s01``..``s20``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from ..util.text import number_range
from .coding import Scan, numbered_frames, require_dir
from .labels import emotion_to_label, known_emotions
from .records import VideoRecord


def subject_name(folder: str) -> str:
    """'s3' -> 's03'."""
    match = re.fullmatch(r"s(\d+)", folder)
    return f"s{int(match.group(1)):02d}" if match else folder


HS_FOLDERS = ["HS", "SMIC_all_cropped/HS", "SMIC_all_raw/HS", "."]
FRAME_PATTERN = r"(?:reg_)?image(\d+)\.bmp"
FRAME_LAYOUT = "s{N}/micro/{class}/{video}/image{6 digits}.bmp (cropped: reg_image...)"


def is_subject_folder(path: Path) -> bool:
    return path.is_dir() and re.fullmatch(r"s\d+", path.name) is not None


def scan_smic(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "SMIC")
    hs = next((root / f for f in HS_FOLDERS if (root / f).is_dir() and any(map(is_subject_folder, (root / f).iterdir()))), None)
    if hs is None:
        raise DataError(f"SMIC-HS: no subject folders s1, s2, ... in {root} nor in its {', '.join(HS_FOLDERS[:-1])}: expected {FRAME_LAYOUT}")
    subjects = sorted(filter(is_subject_folder, hs.iterdir()))
    labels = emotion_to_label("smic", classes)
    scan = Scan(frame_layouts=[f"{hs}/{FRAME_LAYOUT}"])
    for folder in subjects:
        micro = folder / "micro"
        if not micro.is_dir():
            scan.notes.append(f"{folder.name}: no 'micro' folder in {folder} (no micro-expression video of this subject)")
            continue
        for emotion_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            emotion = emotion_dir.name.lower()
            for video_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                subject = subject_name(folder.name)
                if emotion not in known_emotions("smic"):
                    scan.skip(subject, video_dir.name, f"unknown emotion folder {emotion_dir.name!r}")
                    continue
                frames = numbered_frames(video_dir, FRAME_PATTERN)
                if not frames:
                    scan.skip(subject, video_dir.name, f"no image*.bmp or reg_image*.bmp frames in {video_dir}")
                    continue
                numbers = sorted(frames)
                if numbers != list(range(numbers[0], numbers[-1] + 1)):
                    absent = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
                    scan.skip(subject, video_dir.name, f"frame numbers have gaps: {number_range(absent)} absent of {numbers[0]}..{numbers[-1]}")
                    continue
                scan.records.append(
                    VideoRecord(
                        "smic",
                        subject_name(folder.name),
                        video_dir.name,
                        emotion,
                        labels[emotion],
                        numbers[0],
                        None,
                        numbers[-1],
                        [str(frames[n]) for n in numbers],
                    )
                )
    return scan
