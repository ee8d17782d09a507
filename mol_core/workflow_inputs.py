"""What the workflow's jobs stand on, read from disk when Snakemake plans them: a subject's
rows of the video table, its files and their fingerprints, and the preprocessing markers
that no longer hold. Pure functions of the tables and the files they name (the Snakefile's
``common.smk`` hands them the tables its checkpoints wrote); nothing here imports
Snakemake, OpenCV or torch.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from functools import cache

import pandas as pd

from .store.keys import marker_path, source_fingerprint
from .store.markers import marker_problem
from .util.video_io import frame_files


@cache
def _read_table(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_parquet(path)


def read_table(path) -> pd.DataFrame:
    """A Parquet table a checkpoint wrote, read once per version of the file (planning asks
    for the same table many times)."""
    return _read_table(str(path), os.path.getmtime(path))


def subject_rows(table: pd.DataFrame, dataset: str, subject: str) -> pd.DataFrame:
    """The video table's rows of one subject (ValueError naming both when it has none)."""
    rows = table[table.subject == subject]
    if rows.empty:
        raise ValueError(f"subject {subject} is not in dataset {dataset}")
    return rows


def subject_files(rows: pd.DataFrame) -> list[str]:
    """The files a subject's videos are read from: their image files, or their video files
    (frames of a video file are references ``<file>::<index>``, not files)."""
    return sorted({f for frames in rows.frames for f in frame_files(frames)})


def subject_fingerprint(rows: pd.DataFrame) -> str:
    """Each video's sources as its store records them (frame files' paths, sizes and times,
    onset, apex, offset), ``video:digest`` separated by spaces: a parameter of the subject's
    job, so a replaced frame or an edited row reruns it (and the job rebuilds that video's
    store alone)."""
    return " ".join(
        f"{row.video}:" + source_fingerprint(list(row.frames), {"onset": row.onset, "apex": row.apex, "offset": row.offset})
        for row in rows.itertuples()
    )


def stale_marker(folder: str, videos: Iterable[str]) -> tuple[str, str] | None:
    """(marker, why) for the first of ``videos`` whose marker in ``folder`` no longer holds
    (its store or flow is gone, partial or damaged: a claim the cache no longer backs) or is
    missing; None when every one holds or the folder does not exist (its job is planned
    anyway)."""
    if not os.path.isdir(folder):
        return None
    for video in videos:
        marker = str(marker_path(folder, video))
        problem = marker_problem(marker) if os.path.exists(marker) else "marker missing"
        if problem:
            return marker, problem
    return None


def stale_marker_message(marker: str, problem: str, dry_run: bool) -> str:
    """What the workflow says of a marker that no longer holds: its folder is removed and the
    subject's job reruns; a dry run changes nothing and says what the run will do."""
    if dry_run:
        return f"{marker}: {problem}; the run (not this dry run, which changes nothing) will preprocess the video again"
    return f"{marker}: {problem}; the video will be preprocessed again (its subject's job reruns and reuses the other stores)"


def drop_stale_markers(folder: str, videos: Iterable[str], dry_run: bool) -> bool:
    """Remove a subject's marker folder when one of its ``videos``' markers no longer holds
    (:func:`stale_marker`), so that the plan runs the subject's job again (it reuses every
    store still valid); say so on standard error. A dry run removes nothing and says what
    the run will do. Whether the folder was stale."""
    stale = stale_marker(folder, videos)
    if stale is None:
        return False
    print(stale_marker_message(*stale, dry_run), file=sys.stderr)
    if not dry_run:
        shutil.rmtree(folder)
    return True
