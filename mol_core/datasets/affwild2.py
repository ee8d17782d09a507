"""Aff-Wild2 (Kollias and Zafeiriou), the expression annotations of the ABAW challenges: the
macro-expression set the paper pre-trains on (section 4.1.3).

Annotations: one text file per annotated face and split,
``EXPR_Classification_Challenge/{Train_Set,Validation_Set}/{name}.txt`` (the earlier
``EXPR_Set/{Training_Set,Validation_Set}`` and the later ``EXPR_Recognition_Challenge/...``
too), found at most three folders below ``root``
(or given as ``coding``: that folder, or one holding the split folders). Line 1 names the
classes, ``Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise`` (later releases add
``Other``); line 1 + n holds the label index of frame n (from 1), -1 where the frame was
left out. A video with two people has one file per face, ``{video}_left`` and
``{video}_right``.

Frames, per face: ``cropped_aligned/{name}/{n:05d}.jpg`` where that folder exists (the
owners' face crops; a frame whose face they did not detect has no file and splits its
segment; the crop folders of every release are searched: ``cropped_aligned``, the later
``cropped_aligned_new_50_vids``, either inside ``cropped_aligned_images/``, and a doubly
nested ``cropped_aligned/cropped_aligned/``), else the video file ``{video}.mp4`` / ``.avi`` anywhere under ``root`` (the name
without ``_left``/``_right``), frame n being the reference ``{file}::{n - 1}``
(:mod:`mol_core.util.video_io`). To use the video files although ``cropped_aligned`` exists,
give the folder of videos as ``root`` and the annotation folder as ``coding``.

Records: one per labelled segment (a maximal run of consecutive frames with one label and a
frame each) of each face: ``subject`` = the face's name (``_left``/``_right`` kept), ``video``
= ``{name}_{first frame}``, ``onset``/``offset`` its first and last frame numbers, ``apex``
None, ``split`` ``train`` or ``validation``. The 7-class protocol (the paper's) leaves out
``Other`` and -1 frames; ``check`` counts them. A pre-training on this set trains on the
official train split and selects its checkpoint on ``train.val_subjects`` faces drawn from the
official validation split (the clip index carries the split;
:func:`mol_core.datasets.folds.official_split`).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..util.text import counted
from ..util.video_io import SEPARATOR, is_video_file
from .coding import Scan, numbered_frames, require_dir
from .labels import emotion_to_label
from .records import VideoRecord

DATASET = "affwild2"
ANNOTATION_FOLDERS = ("EXPR_Classification_Challenge", "EXPR_Recognition_Challenge", "EXPR_Set")
SPLIT_FOLDERS = {"Train_Set": "train", "Training_Set": "train", "Validation_Set": "validation"}
SEVEN = ("Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")
HEADERS = (SEVEN, SEVEN + ("Other",))
NOT_ANNOTATED = -1
FACE_SIDES = ("_left", "_right")
FRAME_FOLDER = "cropped_aligned"
CROP_FOLDER = re.compile(r"cropped_aligned(?:_new_\d+_vids)?")  # the owners' crop folders of every release
FRAME_PATTERN = r"(\d+)\.jpg"
SEARCH_DEPTH = 3  # folders below root searched for the annotation and frame folders
SHORT_SEGMENT = 8  # the default clip length: shorter segments give no clip (check counts them)
SHOWN = 10  # faces named in a note


@dataclass(frozen=True)
class Annotation:
    """One annotation file: the face's ``name`` (file stem), its ``split``, the ``classes``
    of its header and the label index of every frame (``labels[n - 1]`` for frame n)."""

    name: str
    split: str
    path: Path
    classes: tuple[str, ...]
    labels: np.ndarray


@dataclass(frozen=True)
class Segment:
    """A maximal run of consecutive frames ``first..last`` with one label index."""

    label: int
    first: int
    last: int


def read_annotation(path: str | Path, split: str) -> Annotation:
    """Parse one annotation file; DataError naming the file and line for a wrong header, a
    line that is not an integer or a label index outside -1..classes-1."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: unreadable annotation file ({error.__class__.__name__}: {error})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path}: empty annotation file; line 1 must name the classes ({','.join(SEVEN)}[,Other])")
    header = tuple(c.strip() for c in lines[0].split(","))
    if header not in HEADERS:
        raise DataError(f"{path}: line 1 is {lines[0].strip()!r}, not Aff-Wild2's expression classes {','.join(SEVEN)} (or the same and ,Other)")
    labels = np.empty(len(lines) - 1, np.int64)
    for number, line in enumerate(lines[1:], 2):
        try:
            labels[number - 2] = int(line.strip())
        except ValueError:
            raise DataError(f"{path}: line {number} is {line.strip()!r}, not a label index") from None
        if not NOT_ANNOTATED <= labels[number - 2] < len(header):
            raise DataError(
                f"{path}: line {number}: label {labels[number - 2]} outside -1..{len(header) - 1} (-1 and the {len(header)} classes of line 1)"
            )
    return Annotation(path.stem, split, path, tuple(c.lower() for c in header), labels)


def segments(labels: np.ndarray, present: np.ndarray | None = None) -> list[Segment]:
    """Maximal runs of consecutive frames with one label index (-1 left out), frames
    numbered from 1; ``present`` (bool per frame): the frames that have an image, the others
    splitting runs."""
    labels = np.asarray(labels, np.int64)
    if present is not None:
        labels = np.where(present[: len(labels)], labels, NOT_ANNOTATED)
    padded = np.concatenate([[NOT_ANNOTATED], labels, [NOT_ANNOTATED]])
    bounds = np.flatnonzero(padded[1:] != padded[:-1])  # frame b + 1 starts a run
    return [
        Segment(int(labels[start]), int(start) + 1, int(end))
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
        if labels[start] != NOT_ANNOTATED
    ]


def base_video(name: str) -> str:
    """The video file's name of a face: ``10-60-1280x720_left`` -> ``10-60-1280x720``."""
    for side in FACE_SIDES:
        if name.endswith(side):
            return name.removesuffix(side)
    return name


def _folders(root: Path, wanted, depth: int = SEARCH_DEPTH) -> list[Path]:
    """Folders whose name is wanted (``wanted(name)``) at most ``depth`` levels below
    ``root`` (root too), not looking inside them nor inside crop folders."""
    found, level = [], [root]
    for _ in range(depth + 1):
        below = []
        for folder in level:
            if wanted(folder.name):
                found.append(folder)
                continue
            if CROP_FOLDER.fullmatch(folder.name):
                continue
            try:
                below += sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
        level = below
    return found


def annotation_files(root: str | Path, coding: str | Path | None = None) -> list[tuple[Path, str]]:
    """(file, split) of every annotation file: under ``coding`` (a folder) if given, else
    under the annotation folders found below ``root``. DataError when there is none."""
    where = Path(coding) if coding is not None else Path(root)
    if coding is not None and not where.is_dir():
        raise DataError(f"Aff-Wild2 annotation folder not found: {where}")
    tops = (
        [where]
        if where.name in SPLIT_FOLDERS or any((where / s).is_dir() for s in SPLIT_FOLDERS)
        else _folders(where, ANNOTATION_FOLDERS.__contains__)
    )
    files = []
    for top in tops:
        splits = [top] if top.name in SPLIT_FOLDERS else [top / s for s in SPLIT_FOLDERS if (top / s).is_dir()]
        for folder in splits:
            files += [(p, SPLIT_FOLDERS[folder.name]) for p in sorted(folder.glob("*.txt"))]
    if not files:
        raise DataError(
            f"Aff-Wild2: no annotation files under {where}: expected "
            f"{' or '.join(ANNOTATION_FOLDERS)}/{{{','.join(SPLIT_FOLDERS)}}}/{{video}}.txt"
        )
    return files


def crop_folders(root: Path) -> list[Path]:
    """The owners' face-crop folders under ``root`` (see the module's docstring), a doubly
    nested ``cropped_aligned/cropped_aligned`` given as its inner folder."""
    found = []
    for folder in _folders(root, CROP_FOLDER.fullmatch):
        while (folder / folder.name).is_dir():
            folder = folder / folder.name
        found.append(folder)
    return found


def video_files(root: Path) -> dict[str, list[Path]]:
    """{file stem: paths} of every video file under ``root`` (frame folders not searched)."""
    found: dict[str, list[Path]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(FRAME_FOLDER) and not d.startswith("."))
        for name in sorted(files):
            if is_video_file(name):
                found.setdefault(Path(name).stem, []).append(Path(folder) / name)
    return found


def video_frame_count(path: Path) -> int | None:
    """The frame count a video file's header declares (None when it declares none)."""
    import cv2  # here, not at the top: reading annotations must not load OpenCV

    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    return count if count > 0 else None


@dataclass
class _Counts:
    """What ``check`` reports beside the records: labelled frames per class, labelled frames
    without an image or past a video's end (per face), segment lengths, faces per source."""

    frames: Counter = field(default_factory=Counter)
    without_image: Counter = field(default_factory=Counter)
    past_end: Counter = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    sources: Counter = field(default_factory=Counter)


def _add_face(
    scan: Scan, counts: _Counts, annotation: Annotation, classes: int | None, crops: list[Path], videos: dict[str, list[Path]]
) -> None:
    name, labels = annotation.name, annotation.labels
    for label, count in zip(*np.unique(labels[labels != NOT_ANNOTATED], return_counts=True), strict=True):
        counts.frames[annotation.classes[label]] += int(count)
    to_label = emotion_to_label(DATASET, classes)
    present, frame_of = None, None
    crop = next((folder / name for folder in crops if (folder / name).is_dir()), None)
    if crop is not None:
        images = numbered_frames(crop, FRAME_PATTERN)
        present = np.zeros(len(labels), bool)
        present[np.array([n - 1 for n in images if 1 <= n <= len(labels)], int)] = True
        counts.without_image[name] += int(((labels != NOT_ANNOTATED) & ~present).sum())
        counts.sources[str(crop.parent)] += 1

        def frame_of(n: int) -> str:
            return str(images[n])
    else:
        files = videos.get(name) or videos.get(base_video(name))
        if not files:
            scan.skip(
                name,
                name,
                f"{annotation.split}: no frames: neither {FRAME_FOLDER}/{name}/ nor a video file {base_video(name)}.mp4 / .avi under the root",
            )
            return
        if len(files) > 1:
            scan.skip(name, name, f"{annotation.split}: several video files: {', '.join(map(str, files))}")
            return
        count = video_frame_count(files[0])
        if count is not None and count < len(labels):
            counts.past_end[name] += int((labels[count:] != NOT_ANNOTATED).sum())
            present = np.arange(len(labels)) < count
        counts.sources["video files"] += 1

        def frame_of(n: int) -> str:
            return f"{files[0]}{SEPARATOR}{n - 1}"

    for segment in segments(labels, present):
        emotion = annotation.classes[segment.label]
        if emotion not in to_label:
            scan.leave_out(f"segments labelled {emotion}")
            continue
        counts.lengths.append(segment.last - segment.first + 1)
        frames = [frame_of(n) for n in range(segment.first, segment.last + 1)]
        scan.records.append(
            VideoRecord(
                DATASET,
                name,
                f"{name}_{segment.first}",
                emotion,
                to_label[emotion],
                segment.first,
                None,
                segment.last,
                frames,
                split=annotation.split,
            )
        )


def _most(counter: Counter) -> str:
    shown = ", ".join(f"{name} {n}" for name, n in counter.most_common(SHOWN))
    return shown + (f" and {len(counter) - SHOWN} more" if len(counter) > SHOWN else "")


def _notes(scan: Scan, counts: _Counts, classes: int | None) -> None:
    kept = emotion_to_label(DATASET, classes)
    frames = counts.frames
    scan.notes.append(
        "labelled frames per class: "
        + ", ".join(f"{c} {frames.get(c, 0)}" for c in kept)
        + "".join(f"; {c} {n} (left out)" for c, n in frames.items() if c not in kept)
    )
    for emotion, n in frames.items():
        if emotion not in kept:
            scan.left_out[f"frames labelled {emotion}"] = n
    without = {k: v for k, v in counts.without_image.items() if v}
    if without:
        scan.notes.append(
            f"labelled frames without an image in {FRAME_FOLDER} (faces the owners did not detect; each "
            f"splits its segment): {sum(without.values())} in {counted(len(without), 'face')}: "
            f"{_most(Counter(without))}"
        )
    if counts.past_end:
        scan.notes.append(
            f"labelled frames past the last frame of their video file (left out): "
            f"{sum(counts.past_end.values())} in {counted(len(counts.past_end), 'face')}: {_most(counts.past_end)}"
        )
    if counts.lengths:
        lengths = np.array(counts.lengths)
        scan.notes.append(
            f"segment lengths (frames): min {lengths.min()}, median {int(np.median(lengths))}, "
            f"max {lengths.max()}, total {lengths.sum()}; {(lengths < SHORT_SEGMENT).sum()} of {len(lengths)} "
            f"segments are shorter than {SHORT_SEGMENT} frames and give no clip of {SHORT_SEGMENT}"
        )


def scan_affwild2(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> Scan:
    root = require_dir(root, "Aff-Wild2")
    files = annotation_files(root, coding)
    crops = crop_folders(root)
    videos = video_files(root)
    scan, counts = Scan(), _Counts()
    seen: dict[str, Path] = {}  # face -> the annotation file that gave it
    for path, split in files:
        try:
            annotation = read_annotation(path, split)
        except DataError as error:
            scan.skip(path.stem, path.stem, str(error))
            continue
        if annotation.name in seen:
            scan.skip(annotation.name, annotation.name, f"annotated in {seen[annotation.name]} and in {path}")
            continue
        seen[annotation.name] = path
        not_annotated = int((annotation.labels == NOT_ANNOTATED).sum())
        scan.left_out["frames labelled -1 (not annotated)"] = scan.left_out.get("frames labelled -1 (not annotated)", 0) + not_annotated
        _add_face(scan, counts, annotation, classes, crops, videos)
    _notes(scan, counts, classes)
    scan.coding_files += sorted({str(path.parent) for path, _ in files})
    for folder in crops:
        scan.frame_layouts.append(f"{folder}/{{name}}/{{frame:05d}}.jpg: {counted(counts.sources[str(folder)], 'face')}")
    scan.frame_layouts.append(
        f"video files under {root} ({{video}}.mp4, .avi, ...; frame n = {{file}}{SEPARATOR}{{n-1}}): "
        f"{counted(counts.sources['video files'], 'face')}"
    )
    return scan
