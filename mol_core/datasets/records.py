"""The video record every loader returns, and the video table (Parquet) built from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from ..errors import DataError
from .action_units import ActionUnit, format_action_units, parse_action_units


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video. ``frames`` are ordered frame paths from onset to offset;
    ``label`` indexes ``class_names(dataset, classes)``; ``apex`` is None where unknown;
    ``action_units`` are the coded AUs (empty where the dataset codes none); ``split`` is the
    owners' split (``train``, ``validation``) where a dataset has one, else None; ``truth``
    is the file of the video's exact ground truth (the synthetic set), else None."""

    dataset: str
    subject: str
    video: str
    emotion: str
    label: int
    onset: int
    apex: int | None
    offset: int
    frames: list[str] = field(repr=False)
    action_units: tuple[ActionUnit, ...] = field(default=(), repr=False)
    split: str | None = None
    truth: str | None = None

    @property
    def au_numbers(self) -> frozenset[int]:
        """The FACS numbers of the coded AUs, side, intensity and uncertainty set aside."""
        return frozenset(unit.number for unit in self.action_units)

    @property
    def key(self) -> str:
        """``subject/video``: unique within a dataset, used for cache paths."""
        return f"{self.subject}/{self.video}"


TABLE_COLUMNS = [
    *("dataset", "subject", "video", "emotion", "label", "onset", "apex", "offset", "n_frames", "frames"),
    *("action_units", "split", "truth"),
]


def records_to_table(records: list[VideoRecord]) -> pd.DataFrame:
    rows = [{**asdict(r), "n_frames": len(r.frames), "action_units": format_action_units(r.action_units)} for r in records]
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["apex"] = table["apex"].astype("Int64")
    duplicated = table.duplicated(["subject", "video"])
    if duplicated.any():
        raise DataError(f"duplicate videos in the dataset: {table.loc[duplicated, ['subject', 'video']].values.tolist()}")
    return table


def table_to_records(table: pd.DataFrame) -> list[VideoRecord]:
    """Records of a video table; tables written before AUs (or splits) were kept give records
    without them."""
    action_units = table["action_units"] if "action_units" in table else [""] * len(table)
    splits = table["split"] if "split" in table else [None] * len(table)
    truths = table["truth"] if "truth" in table else [None] * len(table)
    return [
        VideoRecord(
            dataset=row.dataset,
            subject=str(row.subject),
            video=str(row.video),
            emotion=row.emotion,
            label=int(row.label),
            onset=int(row.onset),
            apex=None if pd.isna(row.apex) else int(row.apex),
            offset=int(row.offset),
            frames=list(row.frames),
            action_units=parse_action_units(units)[0],
            split=None if pd.isna(split) else str(split),
            truth=None if pd.isna(truth) else str(truth),
        )
        for row, units, split, truth in zip(table.itertuples(index=False), action_units, splits, truths, strict=True)
    ]
