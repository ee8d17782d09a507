"""The video record every loader returns, and the video table (Parquet) built from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from ..errors import DataError


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video. ``frames`` are ordered frame paths from onset to offset;
    ``label`` indexes ``class_names(dataset, classes)``; ``apex`` is None where unknown."""

    dataset: str
    subject: str
    video: str
    emotion: str
    label: int
    onset: int
    apex: int | None
    offset: int
    frames: list[str] = field(repr=False)

    @property
    def key(self) -> str:
        """``subject/video``: unique within a dataset, used for cache paths."""
        return f"{self.subject}/{self.video}"


TABLE_COLUMNS = ["dataset", "subject", "video", "emotion", "label", "onset", "apex", "offset", "n_frames", "frames"]


def records_to_table(records: list[VideoRecord]) -> pd.DataFrame:
    rows = [{**asdict(r), "n_frames": len(r.frames)} for r in records]
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["apex"] = table["apex"].astype("Int64")
    duplicated = table.duplicated(["subject", "video"])
    if duplicated.any():
        raise DataError(f"duplicate videos in the dataset: {table.loc[duplicated, ['subject', 'video']].values.tolist()}")
    return table


def table_to_records(table: pd.DataFrame) -> list[VideoRecord]:
    return [
        VideoRecord(
            dataset=row.dataset, subject=str(row.subject), video=str(row.video), emotion=row.emotion,
            label=int(row.label), onset=int(row.onset), apex=None if pd.isna(row.apex) else int(row.apex),
            offset=int(row.offset), frames=list(row.frames),
        )
        for row in table.itertuples(index=False)
    ]
