"""One experiment's report: its fold predictions pooled into ``metrics.csv``
(:mod:`.metrics_table`), ``metrics.md``, ``per_fold.csv``, ``per_source.csv``,
``confusion.csv`` and the figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..metrics import BASELINE_OF
from ..util.atomic import write_csv, write_text
from .figures import plot_confusion, plot_curves
from .metrics_table import CLASSIFICATION, SELECTIONS, VALIDATION, MetricsTable
from .pooling import SourceMetrics, experiment_metrics, source_metrics, source_table
from .record import settings_markdown
from .tables import LABELS, NME_UNITS, SELECTION_MARKS, SELECTION_TITLES, format_value, markdown_table

PROTOCOL_FOLDS = {
    "loso": "leave-one-subject-out folds",
    "cross": "cross-dataset fold(s), each testing a whole dataset",
    "lodo": "leave-one-dataset-out folds, each dataset tested by a model trained on the others",
    "pretrain": "pre-training fold(s)",
}
SECTION_TEXT = {
    "best_test": "Each fold's checkpoint chosen by its own test videos' accuracy, the checkpoint the authors' code keeps. The "
    "test subject leaks into the selection, so these figures are optimistic: they are here only to compare with published "
    "numbers; the table above (validation selection) is this experiment's result.",
    "authors": "What the authors' code prints: the predictions of the last training step, every test clip counted once (not "
    "per video), pooled over folds. No test video chose anything, but the unit differs from every other table: not "
    "comparable with per-video figures, only with the authors' printed numbers.",
}
CONSTANT_SHARE = 0.9  # a model that gives one class to this share of the videos is flagged
OUTLIER_RATIO = 2.0  # a fold whose head errs this many times its trivial baseline is flagged


def pooled_table(rows: pd.DataFrame, first_column: str = "Metric") -> str:
    """``| label | pooled | fold mean ± std |`` of one selection's rows over all videos
    (indexed by metric); a row with no value at all (the exact-truth rows outside the
    synthetic set, classification without a MER head) is left out (metrics.csv keeps it)."""
    cells = [
        [LABELS[r.Index], format_value(r.Index, r.pooled), f"{format_value(r.Index, r.fold_mean)} ± {format_value(r.Index, r.fold_std)}"]
        for r in rows.itertuples()
        if not (pd.isna(r.pooled) and pd.isna(r.fold_mean))
    ]
    return markdown_table([first_column, "Pooled", "Fold mean ± std"], cells)


def outlier_fold_lines(per_fold: pd.DataFrame) -> list[str]:
    """A flag naming every fold whose flow or landmark head is at least OUTLIER_RATIO times as
    wrong as its trivial baseline (no motion, mean shape), with the ratio."""
    flagged = []
    for error in ("flow_epe", "landmark_nme"):
        baseline = BASELINE_OF[error]
        if error not in per_fold or baseline not in per_fold:
            continue
        ratio = per_fold[error] / per_fold[baseline]
        flagged += [
            f"{row.fold} ({LABELS[error]} {value:.1f}x its baseline)"
            for row, value in zip(per_fold.itertuples(), ratio, strict=True)
            if value >= OUTLIER_RATIO
        ]
    if not flagged:
        return []
    return [
        "",
        f"**Outlier folds**: {', '.join(flagged)}. A head this far above its trivial baseline is broken on that fold "
        "(a diverged run, a bad teacher, a face lost in preprocessing); see its `log.csv` and `per_fold.csv` before pooling it.",
    ]


def constant_prediction_warning(metrics: MetricsTable, class_names: list[str], matrix: np.ndarray | None) -> list[str]:
    """A flag when the model gives one class to most videos (a near-constant predictor)."""
    share = metrics.value("pred_top_share")
    if matrix is None or np.isnan(share) or share < CONSTANT_SHARE:
        return []
    top = class_names[int(matrix.sum(0).argmax())]
    return [
        "",
        f"**Warning: {100 * share:.0f}% of the test videos are predicted `{top}`.** The model is close to a constant "
        "guess; compare it with the majority-class baseline above before reading its accuracy.",
    ]


def sources_lines(sources: Sequence[SourceMetrics]) -> list[str]:
    """metrics.md's table by source: each source's videos, subjects, folds and pooled figures."""
    if not sources:
        return []
    rows = [[s.source, s.videos, s.subjects, s.folds, *(format_value(m, getattr(s.pooled, m)) for m in CLASSIFICATION)] for s in sources]
    return [
        "",
        "By source (each pooled over its own videos; metrics.csv's rows of that `source` add the mean ± std over the folds holding them):",
        "",
        markdown_table(["Source", "Videos", "Subjects", "Folds", "Acc", "WF1", "UF1", "UAR"], rows),
    ]


def selection_lines(metrics: MetricsTable) -> list[str]:
    """A section for each selection beside the validation one, titled and marked."""
    lines: list[str] = []
    for selection in metrics.selections:
        if selection == VALIDATION:
            continue
        title = SELECTION_TITLES[selection]
        lines += [
            "",
            f"## {title[0].upper() + title[1:]}",
            "",
            SECTION_TEXT[selection],
            "",
            pooled_table(metrics.rows(selection), f"Metric ({selection}: {SELECTION_MARKS[selection]})"),
        ]
    return lines


def confusion_lines(matrix: np.ndarray | None, class_names: list[str]) -> list[str]:
    """The confusion matrix as a table (rows: truth), or the line saying there is none."""
    if matrix is None:
        return ["", "No classification: the model has no MER head (flow and landmark heads only, Tables 14-15's w/o MER)."]
    rows = [[name, *(int(count) for count in counts)] for name, counts in zip(class_names, matrix, strict=True)]
    return ["", "Confusion matrix (rows: truth, columns: prediction):", "", markdown_table(["", *class_names], rows)]


def metrics_markdown(
    name: str,
    metrics: MetricsTable,
    matrix: np.ndarray | None,
    class_names: list[str],
    n_videos: int,
    n_folds: int,
    sources: Sequence[SourceMetrics] = (),
    protocol: str = "loso",
    per_fold: pd.DataFrame | None = None,
) -> str:
    """metrics.md without its Settings: the validation selection's rows over all videos,
    the flags (near-constant predictions, outlier folds), the table by source (``sources``),
    a section for each other selection, the confusion matrix. ``per_fold``: per_fold.csv's
    table, for the outlier-fold flag."""
    lines = [
        f"# {name}",
        "",
        f"{n_videos} test videos in {n_folds} {PROTOCOL_FOLDS.get(protocol, 'folds')}. "
        f"Classification metrics in %, per video, pooled over all folds; {NME_UNITS}. "
        "Each learned error stands beside its trivial baseline (and, on the synthetic set, its teacher's own error).",
        "",
        pooled_table(metrics.rows(VALIDATION)),
    ]
    lines += constant_prediction_warning(metrics, class_names, matrix)
    lines += outlier_fold_lines(per_fold) if per_fold is not None else []
    lines += sources_lines(sources)
    lines += selection_lines(metrics)
    lines += confusion_lines(matrix, class_names)
    return "\n".join(lines) + "\n"


def read_predictions(name: str, prediction_files: list[str]) -> dict[str, pd.DataFrame]:
    """{selection: its rows} of the fold files, in :data:`SELECTIONS` order (a file without
    a ``selection`` column holds the validation selection's alone)."""
    predictions = pd.concat([pd.read_parquet(f) for f in prediction_files], ignore_index=True)
    selection = predictions["selection"] if "selection" in predictions else pd.Series(VALIDATION, index=predictions.index)
    unknown = sorted(set(selection) - set(SELECTIONS))
    if unknown:
        raise DataError(f"{name}: predictions of unknown selection(s) {unknown} (known: {list(SELECTIONS)}); train the folds again")
    by_selection = {s: predictions[selection == s] for s in SELECTIONS if (selection == s).any()}
    if VALIDATION not in by_selection:
        raise DataError(f"{name}: no test predictions in {len(prediction_files)} fold file(s)")
    return by_selection


def write_experiment(
    name: str, prediction_files: list[str], class_names: list[str], out_dir: str | Path, protocol: str = "loso", config: str | Path | None = None
) -> MetricsTable:
    """Write every table and figure of one experiment; returns metrics.csv's table (the
    validation selection's rows over all videos, then each source's, then each other
    selection's). ``config``: the experiment's record (``results/{experiment}/config.yaml``),
    whose preset and differences from the paper preset ``metrics.md`` lists."""
    out_dir = Path(out_dir)
    by_selection = read_predictions(name, prediction_files)
    predictions = by_selection[VALIDATION]
    table, per_fold, matrix = experiment_metrics(predictions, len(class_names))
    sources = source_metrics(predictions, len(class_names), protocol)
    others = [experiment_metrics(rows, len(class_names), selection).table for selection, rows in by_selection.items() if selection != VALIDATION]
    metrics = MetricsTable.concat([table, source_table(sources), *others])
    metrics.write(out_dir / "metrics.csv")
    empty = [c for c in per_fold.columns if "_exact" in c and per_fold[c].isna().all()]  # exact truth: the synthetic set's only
    write_csv(per_fold.drop(columns=empty), out_dir / "per_fold.csv")
    counts = matrix if matrix is not None else np.zeros((0, len(class_names)), np.int64)  # no MER head: no rows
    write_csv(pd.DataFrame(counts, index=class_names[: len(counts)], columns=class_names).reset_index(names="truth"), out_dir / "confusion.csv")
    if sources:
        write_csv(pd.DataFrame([s.table_row() for s in sources]), out_dir / "per_source.csv")
    write_text(
        out_dir / "metrics.md",
        metrics_markdown(name, metrics, matrix, class_names, len(predictions), predictions.fold.nunique(), sources, protocol, per_fold)
        + settings_markdown(config, len(predictions), predictions.subject.nunique()),
    )
    plot_confusion(matrix, class_names, out_dir / "confusion.png", f"{name}: {len(predictions)} videos")
    logs = [Path(f).with_name("log.csv") for f in prediction_files if Path(f).with_name("log.csv").exists()]
    plot_curves(logs, out_dir / "curves.png", f"{name}: {len(logs)} folds")
    return metrics
