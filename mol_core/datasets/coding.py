"""Shared pieces of the loaders: reading the owners' coding files, finding frames, and
collecting every problem of a dataset instead of stopping at the first."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

import pandas as pd

from ..errors import DataError, MolError
from ..util.text import number_range
from .action_units import ActionUnit, format_action_units, parse_action_units
from .doubtful import FLAG_KINDS, Flag, doubtful_flags
from .labels import coding_corrections, emotion_to_label, excluded_videos, known_emotions, mixed_emotion_separator
from .records import VideoRecord


@dataclass(frozen=True)
class SkippedVideo:
    """A coded video left out because of a problem of its own (frames absent or with gaps,
    an apex outside its range, an unknown emotion, ...), or by an exclusion the user asked for."""

    subject: str
    video: str
    reason: str

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.video}"

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


@dataclass
class Scan:
    """What a loader found: the records of the protocol, the videos the protocol leaves out
    (by emotion or by name), the videos skipped for a problem of their own (``skipped``:
    never fatal unless a run is strict), problems of the dataset itself (``problems``;
    ``load`` raises for them),
    every correction of the coding file applied, doubtful annotations of loaded videos
    (``flags``, by video key), notes that do not stop loading (AU text not understood, an
    erratum the file does not need), the coding files read and the frame layouts found."""

    records: list[VideoRecord] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedVideo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    flags: dict[str, list[Flag]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    coding_files: list[str] = field(default_factory=list)
    frame_layouts: list[str] = field(default_factory=list)

    def leave_out(self, reason: str) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + 1

    def skip(self, subject: str, video: str, reason: str) -> None:
        self.skipped.append(SkippedVideo(subject, video, reason))

    def exclude(self, kinds) -> None:
        """Move the records flagged with any of ``kinds`` (keys of FLAG_KINDS) to ``skipped``."""
        unknown = set(kinds) - set(FLAG_KINDS)
        if unknown:
            raise MolError(f"unknown exclusion {sorted(unknown)}; known: {', '.join(FLAG_KINDS)}")
        kept = []
        for record in self.records:
            hits = [str(flag) for flag in self.flags.get(record.key, []) if flag.kind in kinds]
            if hits:
                self.skip(record.subject, record.video, "excluded as asked: " + "; ".join(hits))
            else:
                kept.append(record)
        self.records = kept

    def extend(self, other: Scan) -> None:
        self.records += other.records
        self.skipped += other.skipped
        self.flags.update(other.flags)
        self.problems += other.problems
        self.corrections += other.corrections
        self.notes += other.notes
        self.coding_files += other.coding_files
        self.frame_layouts += other.frame_layouts
        for reason, count in other.left_out.items():
            self.left_out[reason] = self.left_out.get(reason, 0) + count


@dataclass(frozen=True)
class CodedVideo:
    """One row of a coding file after corrections: ``subject`` and ``video`` as our records
    name them, ``file_video`` and ``file_onset`` as the file writes them, ``emotion`` as written."""

    subject: str
    video: str
    file_video: str
    file_onset: int
    onset: int
    apex: int | None
    offset: int
    emotion: str
    action_units: tuple[ActionUnit, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.subject}/{self.video}"


def require_dir(root: str | Path, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{what} root not found: {root}")
    return root


def find_coding_file(root: Path, given: str | Path | None, names: list[str], what: str) -> Path:
    """The coding file given, else the first of ``names`` in ``root`` or its parent."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise DataError(f"{what} coding file not found: {path}")
        return path
    for folder in (root, root.parent):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    raise DataError(f"{what} coding file not found: looked for {' or '.join(names)} in {root} and {root.parent}")


def _normalise(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def read_coding_table(path: Path, columns: dict[str, str], find_header: bool = False, sheet: str | None = None) -> pd.DataFrame:
    """Read an .xlsx/.xls/.csv coding file and return the wanted ``columns`` ({our name:
    the owners' header}) under our names, as strings. Headers match ignoring case, spaces
    and punctuation. ``find_header``: title rows precede the header (SAMM), which is the
    first row holding every wanted header. ``sheet``: the sheet's name (default: the first)."""
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            raw = pd.read_excel(path, header=None, dtype=str, sheet_name=0 if sheet is None else sheet)
        else:
            raw = pd.read_csv(path, header=None, dtype=str)
    except ImportError as error:
        raise DataError(
            f"{path}: reading {path.suffix} files needs a package pandas lacks here ({error}); install it, or save the file as .xlsx or .csv"
        ) from None
    except Exception as error:  # noqa: BLE001 - any reader failure is the file's problem
        raise DataError(f"{path}: cannot read this coding file ({error.__class__.__name__}: {error})") from None
    wanted = {_normalise(h): ours for ours, h in columns.items()}
    header_row: int | None = 0
    if find_header:
        for i in range(min(len(raw), 50)):
            cells = {_normalise(c) for c in raw.iloc[i] if isinstance(c, str)}
            if set(wanted) <= cells:
                header_row = i
                break
        else:
            header_row = None
    found = [str(c) for c in raw.iloc[header_row]] if header_row is not None and len(raw) else []
    names = {_normalise(c): i for i, c in enumerate(found)}
    missing = [columns[ours] for norm, ours in wanted.items() if norm not in names]
    if missing or header_row is None:
        shown = [c for c in found if c and c != "nan"]
        raise DataError(f"{path}: unexpected columns: missing {missing}; found {shown}")
    table = raw.iloc[header_row + 1 :, [names[norm] for norm in wanted]]
    table.columns = list(wanted.values())
    table = table.dropna(how="all")
    return table.map(lambda v: v.strip() if isinstance(v, str) else v).reset_index(drop=True)


@overload
def frame_int(value, what: str, allow_missing: Literal[False] = False) -> int: ...
@overload
def frame_int(value, what: str, allow_missing: bool) -> int | None: ...
def frame_int(value, what: str, allow_missing: bool = False) -> int | None:
    """A frame number from a coding cell; None for a missing apex (``/``, ``-1``, blank)."""
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()
    if allow_missing and text in ("", "/", "-", "-1", "nan"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{what} is {text!r}, not a frame number") from None
    if number != int(number):
        raise ValueError(f"{what} is {text!r}, not a whole frame number")
    return int(number)


def child_folder(parent: Path, name: str) -> Path | None:
    """``parent/name``, else the one folder of ``parent`` named so ignoring case (``J``/``j``)."""
    if (parent / name).is_dir():
        return parent / name
    if not parent.is_dir():
        return None
    matches = [p for p in parent.iterdir() if p.is_dir() and p.name.lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None


def numbered_frames(folder: Path, pattern: str) -> dict[int, Path]:
    """{frame number: path} of the files in ``folder`` whose name matches ``pattern`` (a regex
    with one group, the number)."""
    regex = re.compile(pattern)
    frames = {}
    for path in folder.iterdir():
        match = regex.fullmatch(path.name)
        if match:
            frames[int(match.group(1))] = path
    return frames


def frames_between(frames: dict[int, Path], onset: int, offset: int) -> tuple[list[str], str | None]:
    """Ordered paths of frames onset..offset, or a problem naming what is absent."""
    wanted = range(onset, offset + 1)
    absent = [n for n in wanted if n not in frames]
    if absent:
        present = f"{min(frames)}..{max(frames)}" if frames else "none"
        return [], f"{number_range(absent)} ({len(absent)} of {len(wanted)}) missing; frame files present: {present}"
    return [str(frames[n]) for n in wanted], None


def add_annotated_video(scan: Scan, dataset: str, classes: int | None, coded: CodedVideo, frames: dict[int, Path] | None) -> None:
    """Apply the protocol (known emotion, class map, exclusions) and the frame checks to one
    coded video, adding a record, a left-out count or a problem to ``scan``."""
    onset, apex, offset = coded.onset, coded.apex, coded.offset

    def skip(reason: str) -> None:
        scan.skip(coded.subject, coded.video, reason)

    emotion = coded.emotion.strip().lower()
    separator = mixed_emotion_separator(dataset)
    if separator and separator in emotion and set(emotion.split(separator)) <= known_emotions(dataset):
        scan.leave_out("mixed emotions")
        return
    if emotion not in known_emotions(dataset):
        skip(f"unknown emotion {emotion!r} (known: {', '.join(sorted(known_emotions(dataset)))})")
        return
    labels = emotion_to_label(dataset, classes)
    if emotion not in labels:
        scan.leave_out(emotion)
        return
    if coded.name in excluded_videos(dataset, classes):
        scan.leave_out("excluded by the protocol")
        return
    if offset < onset:
        skip(f"onset {onset} after offset {offset}")
        return
    if apex is not None and not onset <= apex <= offset:
        skip(f"apex {apex} outside onset..offset {onset}..{offset}")
        return
    if frames is None:
        skip("frame folder not found")
        return
    paths, problem = frames_between(frames, onset, offset)
    if problem:
        skip(problem)
        return
    scan.records.append(
        VideoRecord(dataset, coded.subject, coded.video, emotion, labels[emotion], onset, apex, offset, paths, coded.action_units)
    )


def apply_corrections(scan: Scan, dataset: str, subject: str, file_video: str, values: dict, used: set[int]) -> dict:
    """``values`` ({onset, apex, offset, emotion} as written) with the errata of facts.yaml
    that name this row applied; each applied one is listed in ``scan.corrections`` with its
    source. One the file does not need (it already holds the corrected value) or cannot take
    (it holds neither value: another version of the file) is named in ``scan.notes``."""
    fixed = dict(values)
    for index, correction in enumerate(coding_corrections(dataset)):
        row_subject, row_video, row_onset = correction["row"]
        if (str(row_subject), str(row_video), int(row_onset)) != (subject, file_video, values["onset"]):
            continue
        used.add(index)
        where = f"{subject}/{file_video} (onset {values['onset']} in the file)"
        what, was, now = correction["field"], correction["was"], correction["now"]
        held = values[what].strip().lower() if what == "emotion" else values[what]
        if held == now:
            scan.notes.append(f"{where}: erratum {what} {was} -> {now} not needed, the file already has {what} {now}")
            continue
        if held != was:
            scan.notes.append(f"{where}: erratum {what} {was} -> {now} not applied, the file has {what} {values[what]}")
            continue
        fixed[what] = now
        scan.corrections.append(f"{where}: {what} {was} -> {now} ({correction['source']})")
    return fixed


def scan_coded_videos(
    table: pd.DataFrame, columns: dict[str, str], dataset: str, classes: int | None, subject_name, frames_of, video_id=None
) -> Scan:
    """Scan the rows of a coding table (read by :func:`read_coding_table` with ``columns``;
    an ``au`` column, where present, gives each record its action units): ``subject_name(cell)``
    names the subject, ``video_id(file_video, onset)`` the video (default: as written),
    ``frames_of(coded_video)`` gives its frames ({number: path}, or None when the folder is absent).
    The errata of facts.yaml are applied first; video ids must come out unique."""
    scan = Scan()
    used: set[int] = set()
    for row in table.itertuples(index=False):
        subject, file_video = subject_name(str(row.subject)), str(row.video)
        try:
            file_onset = frame_int(row.onset, columns["onset"])
            written = {
                "onset": file_onset,
                "apex": frame_int(row.apex, columns["apex"], allow_missing=True),
                "offset": frame_int(row.offset, columns["offset"]),
                "emotion": str(row.emotion),
            }
        except ValueError as error:
            scan.skip(subject, file_video, str(error))
            continue
        values = apply_corrections(scan, dataset, subject, file_video, written, used)
        video = video_id(file_video, values["onset"]) if video_id else file_video
        units, not_understood = parse_action_units(row.au) if "au" in columns else ((), [])
        if not_understood:
            scan.notes.append(
                f"{subject}/{video}: AU text {not_understood} of {row.au!r} not understood (kept: {format_action_units(units) or 'none'})"
            )
        onset, offset = values["onset"], values["offset"]
        assert onset is not None and offset is not None  # read as numbers; errata set numbers
        coded = CodedVideo(subject, video, file_video, file_onset, onset, values["apex"], offset, values["emotion"], units)
        loaded = len(scan.records)
        add_annotated_video(scan, dataset, classes, coded, frames_of(coded))
        if len(scan.records) > loaded:
            flags = doubtful_flags(dataset, subject, file_video, file_onset, onset, values["apex"], offset)
            if flags:
                scan.flags[coded.name] = flags
    for index, correction in enumerate(coding_corrections(dataset)):
        if index not in used:
            scan.notes.append(
                f"erratum for {'/'.join(map(str, correction['row'][:2]))} onset {correction['row'][2]} not used: no such row in the coding file"
            )
    shared = {key: count for key, count in Counter(r.key for r in scan.records).items() if count > 1}
    for record in (r for r in scan.records if r.key in shared):
        scan.skip(record.subject, record.video, f"{shared[record.key]} coded videos share this id")
    scan.records = [r for r in scan.records if r.key not in shared]
    return scan
