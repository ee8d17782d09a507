"""Pool an experiment's fold predictions (one row per test video: fold, dataset, subject,
label, pred, the auxiliary errors) into the rows of its ``metrics.csv``: every metric pooled
over all folds (classification: one confusion matrix, the MEGC convention; errors: the mean
over videos), and the mean and standard deviation (ddof 0) over the folds; each source's
classification figures where the test videos come from several."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..metrics import confusion_matrix, metrics_from_confusion
from .metrics_table import (
    ALL_VIDEOS,
    AUXILIARY,
    CLASSIFICATION,
    CLASSIFIER_BASELINES,
    ORDER,
    RATIOS,
    VALIDATION,
    MetricsTable,
)

DATASET_PROTOCOLS = ("cross", "lodo")  # protocols whose folds are named after the dataset they test


def _mean(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].mean()) if column in frame and frame[column].notna().any() else float("nan")


def classified(predictions: pd.DataFrame) -> bool:
    """The predictions hold classes (a model with the MER head), not only flow and landmarks."""
    return "pred" in predictions and len(predictions) > 0 and bool(predictions["pred"].notna().all())


def classifier_baselines(predictions: pd.DataFrame, num_classes: int) -> dict[str, float]:
    """The trivial classifier's scores (majority training class of each fold; NaN where the
    fold files have no ``majority``), chance accuracy and the model's top-class share."""
    out = dict.fromkeys(CLASSIFIER_BASELINES, float("nan"))
    if not classified(predictions):
        return out
    if "majority" in predictions and predictions["majority"].notna().all():
        majority = metrics_from_confusion(confusion_matrix(predictions.label, predictions.majority.astype(int), num_classes))
        out.update({f"{m}_majority": majority[m] for m in CLASSIFICATION})
    out["acc_chance"] = 1.0 / num_classes
    out["pred_top_share"] = float(predictions.pred.value_counts(normalize=True).iloc[0])
    return out


def fold_metrics(predictions: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """per_fold.csv: one row per fold (fold, videos, every metric but the ratios)."""
    rows = []
    for fold, group in predictions.groupby("fold", sort=True):
        scores = metrics_from_confusion(confusion_matrix(group.label, group.pred, num_classes)) if classified(group) else {}
        scores.update(classifier_baselines(group, num_classes))
        unclassified = {m: float("nan") for m in CLASSIFICATION}
        rows.append({"fold": fold, "videos": len(group), **unclassified, **scores, **{m: _mean(group, m) for m in AUXILIARY}})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Scores:
    """Classification metrics of a set of videos, as fractions (paper eq. 10a-c; UF1 and UAR
    as MEGC computes them, :func:`mol_core.metrics.metrics_from_confusion`)."""

    acc: float
    wf1: float
    uf1: float
    uar: float

    @classmethod
    def of(cls, labels, predictions, num_classes: int) -> Scores:
        return cls(**metrics_from_confusion(confusion_matrix(labels, predictions, num_classes)))

    @classmethod
    def aggregate(cls, scores: list[Scores], how: Callable) -> Scores:
        """``how`` (np.mean, np.std) of each metric over ``scores``."""
        return cls(**{f.name: float(how([getattr(s, f.name) for s in scores])) for f in fields(cls)})


@dataclass(frozen=True)
class SourceMetrics:
    """The test videos of one source: ``pooled`` over all of them (one confusion matrix,
    the MEGC convention), and the mean and standard deviation over the folds holding them
    (fold by fold, only this source's videos). ``source``: a source dataset (``samm``), a
    held-out dataset of a lodo experiment (its name in the config), or one part of a
    held-out composite (``megc2019/samm``)."""

    source: str
    videos: int
    subjects: int
    folds: int
    pooled: Scores
    fold_mean: Scores
    fold_std: Scores

    def table_row(self) -> dict:
        """A row of per_source.csv: source, videos, subjects, folds and the pooled metrics."""
        return {"source": self.source, "videos": self.videos, "subjects": self.subjects, "folds": self.folds, **vars(self.pooled)}

    def metrics_rows(self) -> list[dict]:
        """Its rows of metrics.csv (validation selection): Acc, WF1, UF1, UAR."""
        return [
            {
                "metric": m,
                "selection": VALIDATION,
                "source": self.source,
                "pooled": getattr(self.pooled, m),
                "fold_mean": getattr(self.fold_mean, m),
                "fold_std": getattr(self.fold_std, m),
            }
            for m in CLASSIFICATION
        ]


def source_groups(predictions: pd.DataFrame, protocol: str = "loso") -> list[tuple[str, pd.Series]]:
    """(source, boolean mask of ``predictions``) of every source the test videos come from,
    or [] when they all come from one.

    A prediction's source is its record's ``dataset`` (a composite set keeps each part's
    name there). In protocols whose folds are datasets (cross, lodo) with several folds, each
    fold (the dataset it held out, as the config names it) is a source, and a fold whose
    videos come from several datasets adds one source per part, ``<fold>/<dataset>``."""
    groups: list[tuple[str, pd.Series]] = []
    folds = list(dict.fromkeys(predictions.fold))
    if protocol in DATASET_PROTOCOLS and len(folds) > 1:
        for fold in folds:
            in_fold = predictions.fold == fold
            groups.append((str(fold), in_fold))
            parts = list(dict.fromkeys(predictions.dataset[in_fold]))
            if len(parts) > 1:
                groups += [(f"{fold}/{part}", in_fold & (predictions.dataset == part)) for part in sorted(parts)]
    else:
        groups = [(str(part), predictions.dataset == part) for part in sorted(predictions.dataset.unique())]
    return groups if len(groups) > 1 else []


def source_metrics(predictions: pd.DataFrame, num_classes: int, protocol: str = "loso") -> list[SourceMetrics]:
    """Each source's metrics (:func:`source_groups`; [] for a single source). Table 6 of the
    paper and MEGC2019 report UF1 and UAR of each part of the composite set beside the whole."""
    out: list[SourceMetrics] = []
    if not classified(predictions):
        return out
    for source, mask in source_groups(predictions, protocol):
        videos = predictions[mask]
        per_fold = [Scores.of(g.label, g.pred, num_classes) for _, g in videos.groupby("fold", sort=True)]
        out.append(
            SourceMetrics(
                source,
                len(videos),
                videos.subject.nunique(),
                len(per_fold),
                Scores.of(videos.label, videos.pred, num_classes),
                Scores.aggregate(per_fold, np.mean),
                Scores.aggregate(per_fold, np.std),
            )
        )
    return out


def source_table(sources: Sequence[SourceMetrics]) -> MetricsTable:
    """The rows of every source (validation selection), one source after the other."""
    return MetricsTable.of_rows([row for source in sources for row in source.metrics_rows()])


class PooledMetrics(NamedTuple):
    """:func:`experiment_metrics`' result."""

    table: MetricsTable  # one row per metric of ORDER with a value, over all videos
    per_fold: pd.DataFrame  # per_fold.csv: one row per fold, with the ratios
    confusion: np.ndarray | None  # [classes, classes] counts, rows = truth; None without the MER head


def experiment_metrics(predictions: pd.DataFrame, num_classes: int, selection: str = VALIDATION) -> PooledMetrics:
    """The rows over all test videos of ``predictions`` (one selection's), the per-fold table,
    and the pooled confusion matrix (None without the MER head: then only the flow and
    landmark rows, Tables 14-15's "w/o MER")."""
    matrix = confusion_matrix(predictions.label, predictions.pred, num_classes) if classified(predictions) else None
    scores = metrics_from_confusion(matrix) if matrix is not None else {m: float("nan") for m in CLASSIFICATION}
    pooled = {**scores, **classifier_baselines(predictions, num_classes), **{m: _mean(predictions, m) for m in AUXILIARY}}
    per_fold = fold_metrics(predictions, num_classes)
    for ratio, (error, baseline) in RATIOS.items():
        pooled[ratio] = pooled[error] / pooled[baseline] if pooled[baseline] > 0 else float("nan")
        per_fold[ratio] = per_fold[error] / per_fold[baseline].where(per_fold[baseline] > 0)
    rows = [
        {
            "metric": m,
            "selection": selection,
            "source": ALL_VIDEOS,
            "pooled": pooled[m],
            "fold_mean": per_fold[m].mean(),
            "fold_std": per_fold[m].std(ddof=0),
        }
        for m in ORDER
        if not np.isnan(pooled[m])
    ]
    return PooledMetrics(MetricsTable.of_rows(rows), per_fold, matrix)
