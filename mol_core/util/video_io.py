"""Frames from image files or from video files, behind one kind of reference.

A frame reference is a path to an image file, or ``<video file>::<index>`` for frame
``index`` (0-based) of a video OpenCV can read (mp4, avi, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from .frame_check import decode_image, describe, shape_of

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
SEPARATOR = "::"


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def video_frame_refs(path: str | Path) -> list[str]:
    """References of every frame of a video file (decoded once to count them)."""
    import cv2  # here, not at the top: listing image files must not load OpenCV

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DataError(f"{path}: OpenCV cannot open this video")
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    if count == 0:
        raise DataError(f"{path}: no frame could be decoded")
    return [f"{path}{SEPARATOR}{k}" for k in range(count)]


def frame_files(refs) -> list[str]:
    """The distinct files that frame references read, in order: each image file, and a video
    file once for all its ``<video>::<index>`` frames (what a workflow job's inputs are)."""
    return list(dict.fromkeys(_split(str(ref))[0] for ref in refs))


def _split(ref: str) -> tuple[str, int | None]:
    if SEPARATOR in ref:
        path, index = ref.rsplit(SEPARATOR, 1)
        return path, int(index)
    return ref, None


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grey uint8 [H,W] from pixels as OpenCV decodes them (grey, BGR or BGRA; 8 or 16 bit)."""
    import cv2

    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return image
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return np.ascontiguousarray(image[:, :, 0])


def read_gray_frames(refs: list[str]) -> np.ndarray:
    """Grey uint8 [T,H,W] of the referenced frames. DataError naming the first frame that is
    missing, truncated, corrupt (a decoder warning) or unlike the video's first frame in size
    or channels (:mod:`mol_core.util.frame_check`). Frames of one video file are decoded in a
    single pass."""
    decoded = _decode_video_frames(refs)
    frames, first = [], None
    for ref in refs:
        image = _read_frame(str(ref), decoded)
        shape = shape_of(image)
        if first is None:
            first = (ref, shape)
        elif shape != first[1]:
            raise DataError(f"frame {ref} is {describe(shape)}; the video's first frame {first[0]} is {describe(first[1])}")
        frames.append(to_gray(image))
    if not frames:
        raise DataError("the video has no frames")
    return np.stack(frames)


# The last video file read, left open at its next frame: (path, capture, next index, the
# file's (size, mtime) when opened). The windows of one long video (Aff-Wild2) come to a
# preprocessing job in order, and each would otherwise decode the file from its first frame.
_OPEN: list = []


def _identity(path: str) -> tuple[int, int] | None:
    """(size, mtime) of a file, None if it cannot be read: a changed file is opened again."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _capture_at(path: str, first: int):
    """(capture, index of its next frame) of ``path``, no further than ``first``: the open
    one when it has not passed ``first``, else the file opened again at its start."""
    import cv2

    if _OPEN and _OPEN[0][0] == path and _OPEN[0][2] <= first and _OPEN[0][3] == _identity(path):
        _, capture, position, _ = _OPEN.pop()
        return capture, position
    close_open_video()
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise DataError(f"unreadable video file: {path}")
    return capture, 0


def close_open_video() -> None:
    """Release the video file :func:`read_gray_frames` left open (if any)."""
    while _OPEN:
        _OPEN.pop()[1].release()


def _decode_video_frames(refs: list[str]) -> dict[tuple[str, int], np.ndarray]:
    """{(video file, index): pixels} of the ``<video>::<index>`` references, each video
    decoded once up to its last wanted frame (frames it lacks are simply absent); frames
    before the first wanted one are skipped undecoded where the open file is already past
    them (the file stays open for the next call)."""
    wanted: dict[str, set[int]] = {}
    for ref in refs:
        path, index = _split(str(ref))
        if index is not None:
            wanted.setdefault(path, set()).add(index)
    decoded: dict[tuple[str, int], np.ndarray] = {}
    for path, indices in wanted.items():
        capture, k = _capture_at(path, min(indices))
        last = max(indices)
        while k <= last:
            if k in indices:
                ok, image = capture.read()
                if ok:
                    decoded[(path, k)] = image
            else:
                ok = capture.grab()
            if not ok:
                break
            k += 1
        _OPEN.append((path, capture, k, _identity(path)))  # _capture_at left _OPEN empty
    return decoded


def _read_frame(ref: str, decoded: dict[tuple[str, int], np.ndarray]) -> np.ndarray:
    """The pixels of one reference: from ``decoded`` for a video frame, else its image file."""
    path, index = _split(ref)
    if index is not None:
        image = decoded.get((path, index))
        if image is None:
            raise DataError(f"unreadable or missing frame: {ref}")
        return image
    if not Path(path).is_file():
        raise DataError(f"missing frame: {ref}")
    image, problem = decode_image(path)
    if problem or image is None:
        raise DataError(f"unreadable frame {ref}: {problem}")
    return image


def image_files(folder: str | Path) -> list[Path]:
    """Image files of a folder in natural order (img2 before img10)."""
    import re

    def key(path: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]

    return sorted((p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=key)
