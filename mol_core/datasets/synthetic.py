"""Loader of the embedded synthetic dataset (CASME II-like coding table and folders)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..synthetic.generate import CODING_FILE
from .labels import emotion_to_label
from .records import VideoRecord

COLUMNS = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Estimated Emotion"]


def load_synthetic(root: str | Path, classes: int | None = None, coding: str | Path | None = None) -> list[VideoRecord]:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"synthetic dataset root not found: {root} (generate it with `python -m mol_core.synthetic`)")
    coding = Path(coding) if coding else root / CODING_FILE
    if not coding.is_file():
        raise DataError(f"coding file not found: {coding}")
    table = pd.read_csv(coding, dtype={"Subject": str, "Filename": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{coding}: missing columns {missing}; found {list(table.columns)}")
    labels = emotion_to_label("synthetic", classes)
    records = []
    for row in table[COLUMNS].itertuples(index=False, name=None):
        subject, video, onset, apex, offset, emotion = row
        subject, video, emotion = str(subject), str(video), str(emotion).strip().lower()
        onset, apex, offset = int(onset), int(apex), int(offset)
        if emotion not in labels:
            continue
        if offset < onset:
            raise DataError(f"{coding}: video {subject}/{video} has offset {offset} before onset {onset}")
        frames = [root / subject / video / f"img{n}.png" for n in range(onset, offset + 1)]
        absent = [str(f) for f in frames if not f.is_file()]
        if absent:
            raise DataError(f"{coding}: video {subject}/{video}: {len(absent)} frame file(s) missing, first {absent[0]}")
        records.append(VideoRecord("synthetic", subject, video, emotion, labels[emotion], onset, apex, offset, [str(f) for f in frames]))
    return records
