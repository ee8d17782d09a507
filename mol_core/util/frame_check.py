"""Checks of frame image files, so a truncated or corrupt frame is rejected by name instead of
being decoded into grey filler.

Two levels:

- :func:`image_problem` (cheap): the file's structure from its header and its end, without
  decoding pixels. JPEG: start-of-image marker, a frame header (SOF) before the scan, and the
  end-of-image marker ``FFD9`` after the scan (an interrupted copy lacks it). PNG: signature,
  ``IHDR`` and the closing ``IEND`` chunk. BMP: the size its header promises. Other formats:
  not empty. :func:`image_header` gives (width, height, channels) from the same headers.
- :func:`decode_image` (full): the decoded pixels, refusing a file the decoder cannot read or
  warns about (libjpeg's ``Premature end of JPEG file``, ``Corrupt JPEG data``), which
  OpenCV otherwise only prints on standard error without a file name.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

TAIL_BYTES = 1024  # where the end-of-image marker must be (data after it is tolerated)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
# JPEG frame headers: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
SOF_MARKERS = {m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)}
PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def _jpeg_structure(f, size: int) -> tuple[tuple[int, int, int] | None, int | None, str | None]:
    """((width, height, channels) | None, offset of the scan | None, problem | None)."""
    if f.read(2) != b"\xff\xd8":
        return None, None, "not a JPEG file (no start-of-image marker)"
    header = None
    while True:
        position = f.tell()
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return header, None, f"JPEG header broken at byte {position}"
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            f.seek(position + 1)
            continue
        if kind in (0x01,) or 0xD0 <= kind <= 0xD7:  # markers without a length
            continue
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return header, None, f"JPEG header cut off at byte {position}"
        (length,) = struct.unpack(">H", length_bytes)
        if kind in SOF_MARKERS:
            body = f.read(6)
            if len(body) < 6:
                return header, None, "JPEG frame header cut off"
            _, height, width, channels = struct.unpack(">BHHB", body)
            header = (width, height, channels)
        if kind == 0xDA:  # start of scan: entropy-coded data follows
            if header is None:
                return None, None, "JPEG scan without a frame header"
            return header, position, None
        if position + 2 + length > size:
            return header, None, f"JPEG header segment at byte {position} runs past the end of the file"
        f.seek(position + 2 + length)


def _png_structure(f, size: int) -> tuple[tuple[int, int, int] | None, str | None]:
    head = f.read(29)
    if head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR" or len(head) < 29:
        return None, "not a PNG file (no signature or IHDR chunk)"
    width, height, _depth, colour = struct.unpack(">IIBB", head[16:26])
    f.seek(max(0, size - 12))
    if not f.read(12).endswith(PNG_END):
        return (width, height, PNG_CHANNELS.get(colour, 0)), "truncated PNG (no IEND chunk at the end)"
    return (width, height, PNG_CHANNELS.get(colour, 0)), None


def _bmp_structure(f, size: int) -> tuple[tuple[int, int, int] | None, str | None]:
    head = f.read(34)
    if head[:2] != b"BM" or len(head) < 34:
        return None, "not a BMP file (no BM header)"
    declared, _, _, pixels_at = struct.unpack("<IHHI", head[2:14])
    width, height, _planes, bits, compression = struct.unpack("<iiHHI", head[18:34])
    header = (width, abs(height), max(1, bits // 8))
    if declared and size < declared:
        return header, f"truncated BMP ({size} of the {declared} bytes its header declares)"
    if compression == 0 and size < pixels_at + ((width * bits + 31) // 32) * 4 * abs(height):
        return header, f"truncated BMP ({size} bytes, too few for {width}x{abs(height)} pixels)"
    return header, None


def _structure(path: str | Path) -> tuple[tuple[int, int, int] | None, str | None]:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return None, "empty file"
        with open(path, "rb") as f:
            suffix = path.suffix.lower()
            if suffix in (".jpg", ".jpeg"):
                header, scan_at, problem = _jpeg_structure(f, size)
                if problem or scan_at is None:
                    return header, problem
                start = max(scan_at, size - TAIL_BYTES)
                f.seek(start)
                if b"\xff\xd9" not in f.read():
                    return header, "truncated JPEG (no end-of-image marker FFD9 after the image data)"
                return header, None
            if suffix == ".png":
                return _png_structure(f, size)
            if suffix == ".bmp":
                return _bmp_structure(f, size)
            return None, None
    except OSError as error:
        return None, f"unreadable ({error.strerror or error.__class__.__name__})"


def image_problem(path: str | Path) -> str | None:
    """What is wrong with an image file's structure (cheap: headers and the end), or None."""
    return _structure(path)[1]


def image_header(path: str | Path) -> tuple[int, int, int] | None:
    """(width, height, channels) read from the header of a JPEG, PNG or BMP file; None for
    other formats or a broken header."""
    return _structure(path)[0]


@contextlib.contextmanager
def native_stderr():
    """Collect what native code (libjpeg, libpng) writes on file descriptor 2 during the
    block: yields a list that holds the text afterwards. Not for use while other threads
    write to standard error."""
    sys.stderr.flush()
    captured: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace").strip())


def decode_image(path: str | Path) -> tuple[np.ndarray | None, str | None]:
    """(pixels as OpenCV decodes them: uint8 [H,W] or [H,W,C], None) or (None, problem): a
    broken structure, an undecodable file, or a decoder warning."""
    import cv2  # here, not at the top: checking headers must not load OpenCV

    problem = image_problem(path)
    if problem:
        return None, problem
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as error:
        return None, f"unreadable ({error.strerror or error.__class__.__name__})"
    with native_stderr() as warnings:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if warnings[0]:
        return None, "decoder warning: " + " / ".join(warnings[0].splitlines()[:3])
    if image is None:
        return None, "undecodable image"
    return image, None


def shape_of(image: np.ndarray) -> tuple[int, int, int]:
    """(width, height, channels) of decoded pixels."""
    return image.shape[1], image.shape[0], 1 if image.ndim == 2 else image.shape[2]


def describe(shape: tuple[int, int, int]) -> str:
    width, height, channels = shape
    return f"{width}x{height}, {channels} channel{'s' if channels != 1 else ''}"


def frame_problems(frames: list[str], deep: bool = False) -> list[str]:
    """Problems of a video's image frames, each naming the file: broken structure (cheap) or
    failed/warned decoding (``deep``), and a size or channel count unlike the first frame's.
    References into video files (``file::index``) are not checked here."""
    problems, first = [], None
    for frame in frames:
        if "::" in str(frame):
            continue
        if deep:
            image, problem = decode_image(frame)
            shape = None if image is None else shape_of(image)
        else:
            shape, problem = _structure(frame)
        if problem:
            problems.append(f"{frame}: {problem}")
            continue
        if shape is None:
            continue
        if first is None:
            first = (frame, shape)
        elif shape != first[1]:
            problems.append(f"{frame}: {describe(shape)}; the video's first frame {first[0]} is {describe(first[1])}")
    return problems
