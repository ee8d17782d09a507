"""SMIC-HS: labels from the folder layout ``HS/s{N}/micro/{positive,negative,surprise}/
{video}/image{N}.bmp``; no onset/apex/offset annotation, so a video is all its frames
(onset and offset are its first and last frame numbers, apex is None).

``root`` may be the SMIC folder (holding ``HS``) or ``HS`` itself. Subjects are named
``s01``..``s20``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .coding import Scan, numbered_frames, require_dir
from .labels import emotion_to_label, known_emotions
from .records import VideoRecord


def subject_name(folder: str) -> str:
    """'s3' -> 's03'."""
    match = re.fullmatch(r"s(\d+)", folder)
    return f"s{int(match.group(1)):02d}" if match else folder


def scan_smic(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "SMIC")
    hs = root / "HS" if (root / "HS").is_dir() else root
    subjects = sorted(p for p in hs.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name))
    if not subjects:
        raise DataError(f"SMIC-HS: no subject folders s1, s2, ... in {hs}")
    labels = emotion_to_label("smic", classes)
    scan = Scan()
    for folder in subjects:
        micro = folder / "micro"
        if not micro.is_dir():
            scan.problems.append(f"{folder.name}: no 'micro' folder in {folder}")
            continue
        for emotion_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            emotion = emotion_dir.name.lower()
            for video_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                name = f"{subject_name(folder.name)}/{video_dir.name}"
                if emotion not in known_emotions("smic"):
                    scan.problems.append(f"{name}: unknown emotion folder {emotion_dir.name!r}")
                    continue
                frames = numbered_frames(video_dir, r"image(\d+)\.bmp")
                if not frames:
                    scan.problems.append(f"{name}: no image*.bmp frames in {video_dir}")
                    continue
                numbers = sorted(frames)
                if numbers != list(range(numbers[0], numbers[-1] + 1)):
                    scan.problems.append(f"{name}: frame numbers have gaps ({numbers[0]}..{numbers[-1]}, {len(numbers)} files)")
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
