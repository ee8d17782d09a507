"""Unlabelled face videos for pre-training (the paper pre-trains on Aff-Wild2): every video
file (mp4, avi, ...) and every folder of image frames under ``root``, at any depth. A video
is named by its path under root (``/`` replaced by ``__``); its subject is the top folder
under root that holds it (``person/clip.mp4``, ``person/clip/0001.png``: ``person``), or the
video itself when it lies directly in root, so one person's videos are preprocessed in one
job and held out together. The whole video is used; emotion ``unlabelled``, label 0."""

from __future__ import annotations

from pathlib import Path

from ..util.video_io import image_files, is_video_file, video_frame_refs
from .coding import Scan, require_dir
from .records import VideoRecord


def scan_folder(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "video folder")
    scan = Scan()
    candidates = sorted(p for p in root.rglob("*") if (p.is_file() and is_video_file(p)) or p.is_dir())
    for path in candidates:
        relative = path.relative_to(root).with_suffix("")
        name = str(relative).replace("/", "__")
        subject = relative.parts[0] if len(relative.parts) > 1 else name
        if path.is_dir():
            frames = [str(f) for f in image_files(path)]
            if not frames:
                continue
        else:
            try:
                frames = video_frame_refs(path)
            except Exception as error:  # noqa: BLE001 - reported, never fatal
                scan.skip(subject, name, f"{path}: {error}")
                continue
        scan.records.append(VideoRecord("folder", subject, name, "unlabelled", 0, 0, None, len(frames) - 1, frames))
    return scan
