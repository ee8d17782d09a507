"""``metrics.csv``: the long table every report writes and every report reads.

One row per (metric, selection, source), in report order:

- ``metric``: a plain name of :data:`ORDER` (``acc``, ``uf1``, ``flow_epe``, ...);
- ``selection``: the checkpoint that predicted, one of :data:`SELECTIONS` (``validation``,
  ours; ``best_test``, LEAKY; ``authors``, NOT COMPARABLE);
- ``source``: :data:`ALL_VIDEOS` (the empty string, an empty field in the CSV) for every test
  video of the experiment, else one source of them (a dataset, ``samm``; a held-out dataset of
  a lodo experiment; a part of a held-out composite, ``megc/smic``);

then the values: ``pooled``, ``fold_mean``, ``fold_std`` for one run (fractions for the
classification metrics, pixels for flow errors, fractions of the eye-centre distance for
landmark errors, ratios for ``*_vs_baseline``), or ``pooled`` (the mean over seeds),
``seed_std`` and ``seed_<n>`` for an experiment with seeds. No reader parses a metric's name
for its selection or its source: :class:`MetricsTable` looks rows up by the three columns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..metrics import BASELINE_OF, FLOW_ERRORS, LANDMARK_ERRORS, LANDMARK_FAILURES
from ..util.atomic import write_csv

KEY = ["metric", "selection", "source"]
FOLD_STATISTICS = ["pooled", "fold_mean", "fold_std"]  # the value columns of one run's metrics.csv
VALIDATION = "validation"
ALL_VIDEOS = ""  # the source of the rows over every test video
SELECTIONS = (VALIDATION, "best_test", "authors")

CLASSIFICATION = ["acc", "wf1", "uf1", "uar"]
AUXILIARY = FLOW_ERRORS + LANDMARK_ERRORS + list(LANDMARK_FAILURES)
# A learned error over its trivial baseline: below 1 means the head learned something.
RATIOS = {f"{error}_vs_baseline": (error, baseline) for error, baseline in BASELINE_OF.items()}
# The trivial classifier beside the model: each fold's majority training class (column
# ``majority`` of the fold files), pooled like the model's predictions, and chance (1/classes);
# ``pred_top_share``: the share of videos given the model's most frequent class.
MAJORITY = [f"{m}_majority" for m in CLASSIFICATION]
CLASSIFIER_BASELINES = MAJORITY + ["acc_chance", "pred_top_share"]
# The metrics of a selection's rows over all videos, in their order: each ratio right after its baseline.
ORDER = (
    CLASSIFICATION
    + CLASSIFIER_BASELINES
    + [m for metric in AUXILIARY for m in [metric] + [r for r, (_, baseline) in RATIOS.items() if baseline == metric]]
)


@dataclass(frozen=True)
class MetricsTable:
    """The rows of one ``metrics.csv`` (columns :data:`KEY`, then the value columns), each
    (metric, selection, source) once, in the order they are written."""

    frame: pd.DataFrame

    def __post_init__(self) -> None:
        missing = [column for column in [*KEY, "pooled"] if column not in self.frame]
        if missing:
            raise DataError(
                f"metrics table without the column(s) {missing} (columns: {list(self.frame.columns)}); a metrics.csv with "
                "row names such as uf1@samm or best_test:acc is of an earlier format: make the reports again with "
                "`snakemake --forcerun experiment_report`"
            )
        unknown = sorted(set(self.frame.selection) - set(SELECTIONS))
        if unknown:
            raise DataError(f"metrics table with unknown selection(s) {unknown}; known: {list(SELECTIONS)}")
        repeated = self.frame[self.frame.duplicated(KEY)]
        if len(repeated):
            raise DataError(f"metrics table with repeated rows: {repeated[KEY].to_dict('records')[:3]}")
        # one dtype for the key columns however the table was made (rows, a concatenation, read back)
        object.__setattr__(self, "frame", self.frame.astype({column: str for column in KEY}).reset_index(drop=True))

    @classmethod
    def of_rows(cls, rows: list[dict], values: list[str] = FOLD_STATISTICS) -> MetricsTable:
        """A table of ``rows`` (dicts with the :data:`KEY` and ``values`` columns), in their order."""
        return cls(pd.DataFrame(rows, columns=[*KEY, *values]))

    @classmethod
    def concat(cls, tables: list[MetricsTable]) -> MetricsTable:
        """The rows of ``tables``, one after the other (a table without rows adds nothing, not even its dtypes)."""
        frames = [t.frame for t in tables if len(t.frame)] or [tables[0].frame]
        return cls(pd.concat(frames, ignore_index=True))

    @classmethod
    def read(cls, path: str | os.PathLike) -> MetricsTable:
        """A ``metrics.csv``; an empty ``source`` field reads as :data:`ALL_VIDEOS` ("") and an
        empty value as NaN (a source named ``NA`` stays ``NA``)."""
        frame = pd.read_csv(path, dtype={column: str for column in KEY}, keep_default_na=False, na_values=[""])
        if "source" in frame:
            frame["source"] = frame["source"].fillna(ALL_VIDEOS)
        try:
            return cls(frame)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None

    def write(self, path: str | os.PathLike) -> None:
        write_csv(self.frame, Path(path))

    @property
    def value_columns(self) -> list[str]:
        """``pooled``, ``fold_mean``, ``fold_std`` (one run) or ``pooled``, ``seed_std``, ``seed_<n>`` (seeds)."""
        return [column for column in self.frame.columns if column not in KEY]

    @property
    def selections(self) -> list[str]:
        """The selections the table holds, in :data:`SELECTIONS` order."""
        present = set(self.frame.selection)
        return [selection for selection in SELECTIONS if selection in present]

    def sources(self, selection: str = VALIDATION) -> list[str]:
        """The sources (not :data:`ALL_VIDEOS`) of ``selection``'s rows, in their order."""
        rows = self.frame[(self.frame.selection == selection) & (self.frame.source != ALL_VIDEOS)]
        return list(dict.fromkeys(rows.source))

    def rows(self, selection: str = VALIDATION, source: str = ALL_VIDEOS) -> pd.DataFrame:
        """The value columns of one selection and source, indexed by metric, in order (no rows: empty)."""
        chosen = self.frame[(self.frame.selection == selection) & (self.frame.source == source)]
        return chosen.set_index("metric")[self.value_columns]

    def value(self, metric: str, column: str = "pooled", selection: str = VALIDATION, source: str = ALL_VIDEOS) -> float:
        """One figure; NaN where the table has no such row or column."""
        rows = self.rows(selection, source)
        if metric not in rows.index or column not in rows:
            return float("nan")
        return float(rows.at[metric, column])

    def keys(self) -> list[tuple[str, str, str]]:
        """(metric, selection, source) of every row, in order."""
        return list(self.frame[KEY].itertuples(index=False, name=None))
