"""Pool fold predictions into an experiment's metrics, and experiments into a summary.

``python -m mol_core.report experiment --name EXP --class-names JSON [--protocol P] --out-dir
DIR PRED...`` writes ``metrics.csv`` (metric, pooled, fold_mean, fold_std), ``metrics.md``,
``per_fold.csv``, ``confusion.csv`` (counts, rows = truth), ``confusion.png`` (rows
normalised), ``curves.png`` (training loss and validation accuracy of every fold, from the
``log.csv`` beside each prediction file). Classification metrics are computed per video
(clip logits averaged) and pooled over all folds into one confusion matrix (MEGC
convention); per-fold means and standard deviations are given beside them.

With more selections (``train.selection: [validation, best_test, authors]``) the fold files
hold their rows too (``selection: best_test``, one per video; ``selection: authors``, one per
clip); every table gives each apart, named and marked (rows ``best_test:<metric>`` and
``authors:<metric>`` of ``metrics.csv``, a section of ``metrics.md``, a sub-row of the
summary): best_test LEAKY (an oracle: the test videos chose the checkpoint), authors NOT
COMPARABLE (the last step, counted per clip). The other figures come from the validation
selection alone. ``test_fold`` rows of older runs are read as best_test.

When the test videos come from several sources (:func:`source_metrics`: the composite set's
parts; the held-out datasets of a leave-one-dataset-out experiment) each source's Acc, WF1,
UF1 and UAR are added: rows ``<metric>@<source>`` of ``metrics.csv`` (e.g. ``uf1@samm``), a
table in ``metrics.md``, ``per_source.csv``, and sub-rows of the summary.

``python -m mol_core.report seeds --name EXP --seeds JSON --out-dir DIR METRICS_CSV...`` (an
experiment with ``seeds``; one metrics.csv per seed run, in the order of ``--seeds``) writes
``metrics.csv`` (metric, pooled = the mean over seeds, seed_std = the sample standard
deviation over seeds, seed_<n> = each seed's pooled figure), ``metrics.md`` and
``per_fold.csv`` (every seed run's folds, with a ``seed`` column).

``python -m mol_core.report summary --out results/summary.md [--paper-results YAML --paper
JSON] METRICS_CSV...`` writes one row per experiment, and the paper's row beside it where
the experiment names one (``{experiment: key of paper_results.yaml}``).

``python -m mol_core.report ablations --out results/ablations.md --table results/ablations.csv
--paper-results YAML --paper JSON METRICS_CSV...`` writes the ablation variants in the
paper's layout (Tables 8-13), ours beside the paper's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .errors import DataError
from .metrics import BASELINE_OF, FLOW_ERRORS, LANDMARK_ERRORS, LANDMARK_FAILURES, confusion_matrix, metrics_from_confusion
from .util.atomic import atomic_path, write_csv, write_text
from .util.cli import command, existing_file, json_argument

CLASSIFICATION = ["acc", "wf1", "uf1", "uar"]
PROTOCOL_FOLDS = {
    "loso": "leave-one-subject-out folds",
    "cross": "cross-dataset fold(s), each testing a whole dataset",
    "lodo": "leave-one-dataset-out folds, each dataset tested by a model trained on the others",
    "pretrain": "pre-training fold(s)",
}
DATASET_PROTOCOLS = ("cross", "lodo")  # protocols whose folds are named after the dataset they test
SOURCE_SEPARATOR = "@"  # metrics.csv names a source's row <metric>@<source>
# The selections beside the validation one, each with what every table says of it; metrics.csv
# names their rows <selection>:<metric>. test_fold is best_test's old name.
EXTRA_SELECTIONS = {
    "best_test": "best test step (LEAKY: an oracle, each fold's checkpoint chosen on its test videos, as the authors' code keeps it)",
    "authors": "the authors' protocol (NOT COMPARABLE: the last step, counted per clip, as the authors' code prints it)",
}
SECTION_TEXT = {
    "best_test": "Each fold's checkpoint chosen by its own test videos' accuracy, the checkpoint the authors' code keeps. The "
    "test subject leaks into the selection, so these figures are optimistic: they are here only to compare with published "
    "numbers; the table above (validation selection) is this experiment's result.",
    "authors": "What the authors' code prints: the predictions of the last training step, every test clip counted once (not "
    "per video), pooled over folds. No test video chose anything, but the unit differs from every other table: not "
    "comparable with per-video figures, only with the authors' printed numbers.",
}
OLD_SELECTIONS = {"test_fold": "best_test"}


def split_selection(metric: str) -> tuple[str | None, str]:
    """(the selection of a metrics.csv row, or None for the validation one; the metric)."""
    prefix, sep, rest = str(metric).partition(":")
    if sep and OLD_SELECTIONS.get(prefix, prefix) in EXTRA_SELECTIONS:
        return OLD_SELECTIONS.get(prefix, prefix), rest
    return None, str(metric)


AUXILIARY = FLOW_ERRORS + LANDMARK_ERRORS + list(LANDMARK_FAILURES)
# A learned error over its trivial baseline: below 1 means the head learned something.
RATIOS = {f"{error}_vs_baseline": (error, baseline) for error, baseline in BASELINE_OF.items()}
# The trivial classifier beside the model: each fold's majority training class (column
# ``majority`` of the fold files), pooled like the model's predictions, and chance (1/classes);
# ``pred_top_share``: the share of videos given the model's most frequent class.
MAJORITY = [f"{m}_majority" for m in CLASSIFICATION]
CLASSIFIER_BASELINES = MAJORITY + ["acc_chance", "pred_top_share"]
CONSTANT_SHARE = 0.9  # a model that gives one class to this share of the videos is flagged
LABELS = {
    "acc": "Acc",
    "wf1": "WF1",
    "uf1": "UF1",
    "uar": "UAR",
    "acc_majority": "  baseline: majority training class, Acc",
    "wf1_majority": "  baseline: majority training class, WF1",
    "uf1_majority": "  baseline: majority training class, UF1",
    "uar_majority": "  baseline: majority training class, UAR",
    "acc_chance": "  baseline: chance (1 / classes), Acc",
    "pred_top_share": "  share of videos given the model's most frequent class",
    "flow_epe": "Flow EPE vs TV-L1 (px)",
    "flow_epe_zero": "  baseline: no motion, vs TV-L1 (px)",
    "flow_epe_vs_baseline": "  ratio to the baseline (< 1: the head beats no motion)",
    "flow_epe_exact": "Flow EPE vs exact flow (px)",
    "flow_epe_zero_exact": "  baseline: no motion, vs exact flow (px)",
    "flow_epe_exact_vs_baseline": "  ratio to the baseline",
    "flow_epe_tvl1_exact": "  teacher: TV-L1 vs exact flow (px)",
    "landmark_nme": "Landmark NME vs dlib",
    "landmark_nme_mean_shape": "  baseline: training mean shape, vs dlib",
    "landmark_nme_vs_baseline": "  ratio to the baseline (< 1: the head beats the mean shape)",
    "landmark_nme_exact": "Landmark NME vs exact landmarks",
    "landmark_nme_mean_shape_exact": "  baseline: training mean shape, vs exact landmarks",
    "landmark_nme_exact_vs_baseline": "  ratio to the baseline",
    "landmark_nme_dlib_exact": "  teacher: dlib vs exact landmarks",
    "landmark_failure": "Landmark failure rate (NME > 10%)",
    "landmark_failure_mean_shape": "  baseline: training mean shape",
}
PERCENT = set(CLASSIFICATION) | set(CLASSIFIER_BASELINES) | {m for m in AUXILIARY if m.startswith("landmark_")}
NME_UNITS = "NME in % of the eye-centre distance (the authors' normaliser, as in the paper's Table 15)"
# Where each ratio goes in a table: right after its baseline.
ORDER = (
    CLASSIFICATION
    + CLASSIFIER_BASELINES
    + [m for metric in AUXILIARY for m in [metric] + [r for r, (_, baseline) in RATIOS.items() if baseline == metric]]
)


def _mean(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].mean()) if column in frame and frame[column].notna().any() else float("nan")


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


def classified(predictions: pd.DataFrame) -> bool:
    """The predictions hold classes (a model with the MER head), not only flow and landmarks."""
    return "pred" in predictions and len(predictions) > 0 and bool(predictions["pred"].notna().all())


def fold_metrics(predictions: pd.DataFrame, num_classes: int) -> pd.DataFrame:
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
    def aggregate(cls, scores: list[Scores], how) -> Scores:
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


def source_rows(sources: list[SourceMetrics]) -> pd.DataFrame:
    """The rows ``<metric>@<source>`` that metrics.csv holds after its pooled rows."""
    return pd.DataFrame(
        [
            {
                "metric": f"{m}{SOURCE_SEPARATOR}{s.source}",
                "pooled": getattr(s.pooled, m),
                "fold_mean": getattr(s.fold_mean, m),
                "fold_std": getattr(s.fold_std, m),
            }
            for s in sources
            for m in CLASSIFICATION
        ],
        columns=["metric", "pooled", "fold_mean", "fold_std"],
    )


def experiment_metrics(predictions: pd.DataFrame, num_classes: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
    """(metrics table, per-fold table, pooled confusion matrix or None without the MER head:
    then only the flow and landmark rows, Tables 14-15's "w/o MER")."""
    matrix = confusion_matrix(predictions.label, predictions.pred, num_classes) if classified(predictions) else None
    scores = metrics_from_confusion(matrix) if matrix is not None else {m: float("nan") for m in CLASSIFICATION}
    pooled = {**scores, **classifier_baselines(predictions, num_classes), **{m: _mean(predictions, m) for m in AUXILIARY}}
    per_fold = fold_metrics(predictions, num_classes)
    for ratio, (error, baseline) in RATIOS.items():
        pooled[ratio] = pooled[error] / pooled[baseline] if pooled[baseline] > 0 else float("nan")
        per_fold[ratio] = per_fold[error] / per_fold[baseline].where(per_fold[baseline] > 0)
    table = pd.DataFrame(
        [
            {"metric": m, "pooled": pooled[m], "fold_mean": per_fold[m].mean(), "fold_std": per_fold[m].std(ddof=0)}
            for m in ORDER
            if not np.isnan(pooled[m])
        ]
    )
    return table, per_fold, matrix


def _fmt(metric: str, value: float) -> str:
    metric = split_selection(metric)[1]
    if value is None or np.isnan(value):
        return "n/a"
    if metric in RATIOS:
        return f"{value:.2f}x"
    return f"{100 * value:.2f}" if metric in PERCENT else f"{value:.3f}"


def _pooled_lines(table: pd.DataFrame) -> list[str]:
    """Table rows ``| label | pooled | fold mean ± std |`` of metrics.csv's pooled rows; a row
    with no value at all (the exact-truth rows outside the synthetic set, classification
    without a MER head) is left out (metrics.csv keeps it)."""
    return [
        f"| {LABELS[r.metric]} | {_fmt(r.metric, r.pooled)} | {_fmt(r.metric, r.fold_mean)} ± {_fmt(r.metric, r.fold_std)} |"
        for r in table.itertuples()
        if not (pd.isna(r.pooled) and pd.isna(r.fold_mean))
    ]


OUTLIER_RATIO = 2.0  # a fold whose head errs this many times its trivial baseline is flagged


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


def metrics_markdown(
    name: str,
    table: pd.DataFrame,
    matrix: np.ndarray | None,
    class_names: list[str],
    n_videos: int,
    n_folds: int,
    sources: Sequence[SourceMetrics] = (),
    protocol: str = "loso",
    extra: dict[str, pd.DataFrame] | None = None,
    per_fold: pd.DataFrame | None = None,
) -> str:
    """``table``: the pooled metric rows (without the per-source ones, given as ``sources``);
    ``extra``: {selection: the same rows} of the selections asked for beside validation;
    ``per_fold``: per_fold.csv's table, for the outlier-fold flag."""
    lines = [
        f"# {name}",
        "",
        f"{n_videos} test videos in {n_folds} {PROTOCOL_FOLDS.get(protocol, 'folds')}. "
        f"Classification metrics in %, per video, pooled over all folds; {NME_UNITS}. "
        "Each learned error stands beside its trivial baseline (and, on the synthetic set, its teacher's own error).",
        "",
        "| Metric | Pooled | Fold mean ± std |",
        "|---|---:|---:|",
        *_pooled_lines(table),
    ]
    lines += constant_prediction_warning(table, class_names, matrix)
    lines += outlier_fold_lines(per_fold) if per_fold is not None else []
    if sources:
        lines += [
            "",
            "By source (each pooled over its own videos; the rows `<metric>@<source>` of metrics.csv add "
            "the mean ± std over the folds holding them):",
            "",
            "| Source | Videos | Subjects | Folds | Acc | WF1 | UF1 | UAR |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for source in sources:
            lines.append(
                f"| {source.source} | {source.videos} | {source.subjects} | {source.folds} | "
                + " | ".join(_fmt(m, getattr(source.pooled, m)) for m in CLASSIFICATION)
                + " |"
            )
    for selection, rows in (extra or {}).items():
        title = EXTRA_SELECTIONS[selection]
        lines += [
            "",
            f"## {title[0].upper() + title[1:]}",
            "",
            SECTION_TEXT[selection],
            "",
            f"| Metric ({selection}: {'LEAKY' if selection == 'best_test' else 'NOT COMPARABLE'}) | Pooled | Fold mean ± std |",
            "|---|---:|---:|",
            *_pooled_lines(rows),
        ]
    if matrix is None:
        lines += ["", "No classification: the model has no MER head (flow and landmark heads only, Tables 14-15's w/o MER)."]
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "Confusion matrix (rows: truth, columns: prediction):",
        "",
        "| | " + " | ".join(class_names) + " |",
        "|---|" + "---:|" * len(class_names),
    ]
    for name_, counts in zip(class_names, matrix, strict=True):
        lines.append(f"| {name_} | " + " | ".join(str(int(c)) for c in counts) + " |")
    return "\n".join(lines) + "\n"


def constant_prediction_warning(table: pd.DataFrame, class_names: list[str], matrix: np.ndarray | None) -> list[str]:
    """A flag when the model gives one class to most videos (a near-constant predictor)."""
    shares = table.set_index("metric").pooled
    share = shares.get("pred_top_share", np.nan)
    if matrix is None or np.isnan(share) or share < CONSTANT_SHARE:
        return []
    top = class_names[int(matrix.sum(0).argmax())]
    return [
        "",
        f"**Warning: {100 * share:.0f}% of the test videos are predicted `{top}`.** The model is close to a constant "
        "guess; compare it with the majority-class baseline above before reading its accuracy.",
    ]


def _figure(width: float, height: float):
    """A matplotlib ``Figure`` drawn on its own Agg canvas (inches): no pyplot, so the
    process-wide backend and pyplot's figure list are left alone."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _save_figure(fig, path: str | Path, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


def plot_confusion(matrix: np.ndarray | None, class_names: list[str], path: str | Path, title: str) -> None:
    """Row-normalised confusion matrix (recall per true class) with the counts; without
    one (no MER head), a figure that says so."""
    if matrix is None:
        fig = _figure(4, 1.5)
        fig.text(0.5, 0.5, f"{title}\nno classification: the model has no MER head", ha="center", va="center")
        _save_figure(fig, path, dpi=120)
        return
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = 1.2 + 0.9 * len(class_names)
    fig = _figure(size + 1.5, size)
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=35, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(
                j,
                i,
                f"{rates[i, j]:.2f}\n({matrix[i, j]})",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save_figure(fig, path, dpi=120)


def plot_curves(log_files: list[Path], path: str | Path, title: str) -> None:
    """Training loss and validation accuracy (or loss) of every fold against the step."""
    fig = _figure(10, 3.8)
    left, right = fig.subplots(1, 2)
    for log_file in log_files:
        log = pd.read_csv(log_file)
        fold = Path(log_file).parent.name
        # numpy arrays, not Series: plotting a Series lets pandas import pyplot
        left.plot(log.step.to_numpy(), log.loss.to_numpy(), lw=1, label=fold)
        val = log[log.val_loss.notna()]
        column = "val_acc" if val.val_acc.notna().any() else "val_loss"
        right.plot(val.step.to_numpy(), val[column].to_numpy(), marker="o", ms=3, lw=1, label=fold)
        right.set_ylabel("validation accuracy" if column == "val_acc" else "validation loss")
    left.set_xlabel("step")
    left.set_ylabel("training loss (eq. 9)")
    right.set_xlabel("step")
    if 0 < len(log_files) <= 12:
        right.legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    _save_figure(fig, path, dpi=110)


def write_experiment(
    name: str, prediction_files: list[str], class_names: list[str], out_dir: str | Path, protocol: str = "loso", config: str | Path | None = None
) -> pd.DataFrame:
    """Write every table and figure of one experiment; returns metrics.csv's table (the
    pooled rows, then the per-source rows ``<metric>@<source>`` where there are sources).
    ``config``: the experiment's record (``results/{experiment}/config.yaml``), whose preset
    and differences from the paper preset ``metrics.md`` lists."""
    out_dir = Path(out_dir)
    predictions = pd.concat([pd.read_parquet(f) for f in prediction_files], ignore_index=True)
    if predictions.empty:
        raise DataError(f"{name}: no test predictions in {len(prediction_files)} fold file(s)")
    selection = predictions["selection"] if "selection" in predictions else pd.Series("validation", index=predictions.index)
    selection = selection.replace(OLD_SELECTIONS)
    extra_rows = {name: predictions[selection == name] for name in EXTRA_SELECTIONS if (selection == name).any()}
    predictions = predictions[selection == "validation"]
    table, per_fold, matrix = experiment_metrics(predictions, len(class_names))
    sources = source_metrics(predictions, len(class_names), protocol)
    extra = {name: experiment_metrics(rows, len(class_names))[0] for name, rows in extra_rows.items()}
    parts = (
        [table] + ([source_rows(sources)] if sources else []) + [rows.assign(metric=f"{name}:" + rows.metric) for name, rows in extra.items()]
    )
    metrics = pd.concat(parts, ignore_index=True)
    write_csv(metrics, out_dir / "metrics.csv")
    empty = [c for c in per_fold.columns if "_exact" in c and per_fold[c].isna().all()]  # exact truth: the synthetic set's only
    write_csv(per_fold.drop(columns=empty), out_dir / "per_fold.csv")
    counts = matrix if matrix is not None else np.zeros((0, len(class_names)), np.int64)  # no MER head: no rows
    write_csv(pd.DataFrame(counts, index=class_names[: len(counts)], columns=class_names).reset_index(names="truth"), out_dir / "confusion.csv")
    if sources:
        write_csv(pd.DataFrame([s.table_row() for s in sources]), out_dir / "per_source.csv")
    write_text(
        out_dir / "metrics.md",
        metrics_markdown(name, table, matrix, class_names, len(predictions), predictions.fold.nunique(), sources, protocol, extra, per_fold)
        + settings_markdown(config, len(predictions), predictions.subject.nunique()),
    )
    plot_confusion(matrix, class_names, out_dir / "confusion.png", f"{name}: {len(predictions)} videos")
    logs = [Path(f).with_name("log.csv") for f in prediction_files if Path(f).with_name("log.csv").exists()]
    plot_curves(logs, out_dir / "curves.png", f"{name}: {len(logs)} folds")
    return metrics


def seed_table(metric_files: list[str], seeds: list[int]) -> pd.DataFrame:
    """metrics.csv of an experiment with seeds, from its seed runs' (``metric_files`` in the
    order of ``seeds``): for each metric every run has (in the first run's order), ``pooled``
    = the mean over seeds of each run's pooled figure (for a ratio: the mean of the ratios),
    ``seed_std`` = their sample standard deviation (ddof 1; NaN for one seed), and
    ``seed_<n>`` = seed n's figure."""
    if len(metric_files) != len(seeds):
        raise DataError(f"{len(metric_files)} metrics files for {len(seeds)} seeds {seeds}")
    runs = [pd.read_csv(f).set_index("metric")["pooled"] for f in metric_files]
    metrics = [m for m in runs[0].index if all(m in run.index for run in runs)]
    values = pd.DataFrame({f"seed_{seed}": run[metrics].to_numpy() for seed, run in zip(seeds, runs, strict=True)}, index=metrics)
    summary = pd.DataFrame({"pooled": values.mean(axis=1), "seed_std": values.std(axis=1, ddof=1)}, index=metrics)
    return pd.concat([summary, values], axis=1).rename_axis("metric").reset_index()


def _label(metric: str) -> str:
    """A metric's table label; a source's row ``<metric>@<source>`` as ``<label> (<source>)``."""
    selection, base = split_selection(metric)
    if selection is not None:
        return f"{LABELS[base].strip()}, {EXTRA_SELECTIONS[selection]}"
    if SOURCE_SEPARATOR in metric:
        base, source = metric.split(SOURCE_SEPARATOR, 1)
        return f"{LABELS[base]} ({source})"
    return LABELS[metric]


def _mean_std(metric: str, mean: float, std: float) -> str:
    return _fmt(metric, mean) + ("" if std is None or np.isnan(std) else f" ± {_fmt(metric, std)}")


def seeds_markdown(name: str, table: pd.DataFrame, seeds: list[int], runs: list[str]) -> str:
    lines = [
        f"# {name}",
        "",
        f"{len(seeds)} seeds: every fold trained once per seed (runs {', '.join(f'`{r}`' for r in runs)}; each run's own "
        "tables in results/<run>/metrics.md). Mean ± sample standard deviation over seeds, beside each seed's figure "
        f"pooled over its folds. Classification metrics in %, per video; {NME_UNITS}.",
        "",
        "| Metric | Mean ± std | " + " | ".join(f"seed {seed}" for seed in seeds) + " |",
        "|---|---:|" + "---:|" * len(seeds),
    ]
    for row in table.to_dict("records"):
        cells = [_mean_std(row["metric"], row["pooled"], row["seed_std"])] + [_fmt(row["metric"], row[f"seed_{seed}"]) for seed in seeds]
        lines.append(f"| {_label(row['metric'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_record(path: str | Path | None) -> dict | None:
    """An experiment's ``config.yaml`` record (:mod:`mol_core.config.effective`), or None."""
    if path is None or not Path(path).is_file():
        return None
    return yaml.safe_load(Path(path).read_text())


def release_coverage(record: dict, videos: int, subjects: int) -> str:
    """``19 of the complete release's 246 test videos (5 of 26 subjects)`` for a LOSO or
    cross experiment whose test dataset has published counts (facts.yaml), else ''."""
    from .datasets.labels import dataset_facts, default_classes

    test = record.get("test_dataset") or record.get("dataset")
    entry = record.get("datasets_used", {}).get(test)
    if record.get("protocol") not in ("loso", "cross") or not entry:
        return ""
    published = dataset_facts(entry["loader"]).get("published", {}).get(entry.get("classes") or default_classes(entry["loader"]))
    if not published:
        return ""
    return f"{videos} of the complete release's {published[0]} test videos ({subjects} of {published[1]} subjects)"


def settings_markdown(config: str | Path | None, videos: int = 0, subjects: int = 0) -> str:
    """The Settings section of metrics.md: the preset, the test videos against the complete
    release's, and each setting that differs from the paper preset (empty without a record)."""
    record = read_record(config)
    if record is None:
        return ""
    differs = record.get("differs_from_paper", [])
    lines = ["", "## Settings", "", f"Preset `{record.get('preset')}`; the whole record: `{Path(str(config)).name}`."]
    coverage = release_coverage(record, videos, subjects)
    if coverage:
        test = record.get("test_dataset") or record.get("dataset")
        lines += ["", f"Tested on {coverage}; the skipped videos, with the reason: `results/{test}/skipped.csv`."]
    if differs:
        lines += ["", f"**Not the paper's settings**: {len(differs)} differ from the `paper` preset:", ""] + [f"- {d}" for d in differs]
    else:
        lines += ["", "Every setting is the `paper` preset's."]
    return "\n".join(lines) + "\n"


def run_coverage(metrics_file: Path, record: dict) -> str:
    """:func:`release_coverage` of an experiment's pooled test videos and subjects (from its
    per_fold.csv; '' for a run with seeds, whose folds repeat the videos, or without one)."""
    per_fold = metrics_file.with_name("per_fold.csv")
    if not per_fold.is_file():
        return ""
    folds = pd.read_csv(per_fold)
    if "videos" not in folds or "seed" in folds:
        return ""
    return release_coverage(record, int(folds.videos.sum()), len(folds))


def paper_settings_note(metrics_file: Path) -> str:
    """For a summary row beside the paper's: whether the run used the paper's settings."""
    record = read_record(metrics_file.with_name("config.yaml"))
    if record is None:
        return ""
    differs = record.get("differs_from_paper", [])
    coverage = run_coverage(metrics_file, record)
    coverage = f"; {coverage}" if coverage else ""
    if not differs:
        return f" (our run: the paper's settings{coverage})"
    shown = ", ".join(d.split(" (paper")[0] for d in differs[:3]) + (", ..." if len(differs) > 3 else "")
    return f" (our run: NOT the paper's settings, preset {record.get('preset')}; {len(differs)} differ: {shown}{coverage})"


def write_seeds(name: str, metric_files: list[str], seeds: list[int], out_dir: str | Path) -> pd.DataFrame:
    """metrics.csv, metrics.md and per_fold.csv of an experiment with seeds; returns metrics.csv's table."""
    out_dir = Path(out_dir)
    table = seed_table(metric_files, seeds)
    per_fold = [pd.read_csv(Path(f).with_name("per_fold.csv")).assign(seed=seed) for f, seed in zip(metric_files, seeds, strict=True)]
    folds = pd.concat(per_fold, ignore_index=True)
    write_csv(table, out_dir / "metrics.csv")
    write_csv(folds[["seed", *[c for c in folds.columns if c != "seed"]]], out_dir / "per_fold.csv")
    write_text(out_dir / "metrics.md", seeds_markdown(name, table, seeds, [Path(f).parent.name for f in metric_files]))
    return table


def load_paper_results(path: str | Path | None) -> dict:
    if path is None:
        return {}
    import yaml

    return yaml.safe_load(Path(path).read_text())


def _paper_cells(row: dict, metrics: list[str]) -> list[str]:
    """The paper's figures (percent; EPE in pixels), blank where it reports none."""
    return ["" if m not in row else f"{row[m]:.3f}" if m == "epe" else f"{row[m]:.2f}" for m in metrics]


# The paper's figure under each summary column ("" where it reports none).
PAPER_COLUMNS = ["acc", "wf1", "uf1", "uar", "", "", "", "epe", "", "", "nme", "", ""]


def paper_keys(value) -> list[str]:
    """The rows of resources/paper_results.yaml an experiment's ``paper`` names (one or a list)."""
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


SUMMARY_COLUMNS = [
    ("Acc", "acc"),
    ("WF1", "wf1"),
    ("UF1", "uf1"),
    ("UAR", "uar"),
    ("majority Acc", "acc_majority"),
    ("majority UF1", "uf1_majority"),
    ("chance Acc", "acc_chance"),
    ("Flow EPE (px)", "flow_epe"),
    ("no motion", "flow_epe_zero"),
    ("EPE ratio", "flow_epe_vs_baseline"),
    ("Landmark NME", "landmark_nme"),
    ("mean shape", "landmark_nme_mean_shape"),
    ("NME ratio", "landmark_nme_vs_baseline"),
]


def sources_of(pooled: pd.Series) -> dict[str, dict[str, float]]:
    """{source: {metric: value}} of the rows ``<metric>@<source>`` of a metrics.csv's pooled
    column (indexed by metric), in their order."""
    out: dict[str, dict[str, float]] = {}
    for metric, value in pooled.items():
        if SOURCE_SEPARATOR in metric:
            base, source = metric.split(SOURCE_SEPARATOR, 1)
            out.setdefault(source, {})[base] = float(value)
    return out


def _folds_cell(per_fold: Path) -> str:
    """The summary's Folds cell: the folds of a run, ``<folds> × <k> seeds`` for seeds."""
    if not per_fold.exists():
        return "?"
    folds = pd.read_csv(per_fold)
    if "seed" not in folds:
        return str(len(folds))
    seeds = folds.seed.nunique()
    return f"{len(folds) // seeds} × {seeds} seeds"


def run_context(metrics_file: Path) -> str:
    """The summary's Run cell: the preset, the test videos against the complete release's,
    the videos the data stage skipped, and how many settings differ from the paper's (from
    the experiment's record; '' without one)."""
    record = read_record(metrics_file.with_name("config.yaml"))
    if record is None:
        return ""
    parts = [f"preset {record.get('preset')}", run_coverage(metrics_file, record)]
    test = record.get("test_dataset") or record.get("dataset")
    skipped = metrics_file.parent.parent / str(test) / "skipped.csv"
    if test and skipped.is_file():
        count = len(pd.read_csv(skipped))
        parts.append(f"{count} skipped (results/{test}/skipped.csv)" if count else "none skipped")
    differs = len(record.get("differs_from_paper", []))
    parts.append(f"{differs} settings differ from the paper's" if differs else "the paper's settings")
    return "; ".join(p for p in parts if p)


def summary_markdown(metric_files: list[str], paper: dict[str, str] | None = None, paper_results: dict | None = None) -> str:
    paper, paper_results = paper or {}, paper_results or {}
    header = ["Experiment"] + [title for title, _ in SUMMARY_COLUMNS] + ["Folds", "Run"]
    lines = [
        "# Summary",
        "",
        "Classification metrics in %, per video, pooled over all folds (MEGC convention); "
        "flow EPE of the flow head against TV-L1 beside predicting no motion; landmark NME against dlib beside "
        f"the training set's mean shape ({NME_UNITS}); a ratio below 1 means the head beats its baseline; the classifier "
        "stands beside the majority class of each fold's training set and chance. Run: the preset, the test videos of "
        "the complete release, the videos skipped and how many settings differ from the paper's. "
        "Rows `experiment: source` give the classification metrics of one source of its test videos (a part of a "
        "composite set, a held-out dataset). An experiment run with several seeds shows the mean ± sample standard "
        "deviation over seeds (each seed pooled over its folds). Rows marked LEAKY select each fold's checkpoint on "
        "its test videos (an oracle, the checkpoint the authors' code keeps): optimistic, only for comparison with "
        "published numbers; rows marked NOT COMPARABLE count the last step's predictions per clip, as the authors' "
        "code prints them. Rows "
        "marked *paper* give the figures the paper reports for the same experiment.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for file in metric_files:
        path = Path(file)
        metrics = pd.read_csv(path).set_index("metric")
        table = metrics["pooled"]
        spread = metrics["seed_std"] if "seed_std" in metrics else pd.Series(dtype=float)
        name = path.parent.name
        cells = [name] + [_mean_std(m, table.get(m, np.nan), spread.get(m, np.nan)) for _, m in SUMMARY_COLUMNS]
        lines.append("| " + " | ".join(cells + [_folds_cell(path.with_name("per_fold.csv")), run_context(path)]) + " |")
        present = {split_selection(m)[0]: str(m).partition(":")[0] for m in table.index}  # selection -> its prefix as written
        for selection in EXTRA_SELECTIONS:
            if selection in present:
                prefix = present[selection] + ":"
                cells = [f"{name}: {EXTRA_SELECTIONS[selection]}"] + [
                    _mean_std(m, table.get(prefix + m, np.nan), spread.get(prefix + m, np.nan)) for _, m in SUMMARY_COLUMNS
                ]
                lines.append("| " + " | ".join(cells + ["", ""]) + " |")
        for source, scores in sources_of(table).items():
            cells = [f"{name}: {source}"] + [_fmt(m, scores[m]) if m in scores else "" for _, m in SUMMARY_COLUMNS]
            lines.append("| " + " | ".join(cells + ["", ""]) + " |")
        keys = paper_keys(paper.get(name))
        note = paper_settings_note(path) if keys else ""  # read once for all the experiment's paper rows
        for key in keys:
            row = paper_results[key]
            cells = [f"*paper* (Table {row['table']}: {row['row']}){note}"] + _paper_cells(row, PAPER_COLUMNS)
            lines.append("| " + " | ".join(cells + [""] * (len(header) - len(cells))) + " |")
    return "\n".join(lines) + "\n"


def ablation_table(metric_files: list[str], paper: dict, paper_results: dict) -> pd.DataFrame:
    """One row per ablation experiment and paper row it names (a variant may stand in
    several tables: MOL w/o MER in Tables 14 and 15): table, the paper's row name, ours,
    the paper's."""
    rows = []
    for file in metric_files:
        path = Path(file)
        ours = pd.read_csv(path).set_index("metric")["pooled"]
        name = path.parent.name
        for key in paper_keys(paper.get(name)) or [""]:
            reference = paper_results.get(key, {})
            rows.append(
                {
                    "table": reference.get("table"),
                    "variant": reference.get("row", name),
                    "experiment": name,
                    "acc": 100 * ours.get("acc", np.nan),
                    "wf1": 100 * ours.get("wf1", np.nan),
                    "flow_epe": ours.get("flow_epe", np.nan),
                    "flow_ratio": ours.get("flow_epe_vs_baseline", np.nan),
                    "landmark_nme": 100 * ours.get("landmark_nme", np.nan),
                    "landmark_failure": 100 * ours.get("landmark_failure", np.nan),
                    "landmark_ratio": ours.get("landmark_nme_vs_baseline", np.nan),
                    "paper_acc": reference.get("acc", np.nan),
                    "paper_wf1": reference.get("wf1", np.nan),
                    "paper_epe": reference.get("epe", np.nan),
                    "paper_nme": reference.get("nme", np.nan),
                    "paper_failure": reference.get("failure", np.nan),
                }
            )
    return pd.DataFrame(rows).sort_values(["table", "experiment"], kind="stable")


# The columns of each table of results/ablations.md: (title, column of ablation_table, format).
ABLATION_COLUMNS = [
    ("Acc", "acc", "{:.2f}"),
    ("WF1", "wf1", "{:.2f}"),
    ("Flow EPE", "flow_epe", "{:.3f}"),
    ("EPE ratio", "flow_ratio", "{:.2f}x"),
    ("Landmark NME", "landmark_nme", "{:.2f}"),
    ("NME ratio", "landmark_ratio", "{:.2f}x"),
    ("Paper Acc", "paper_acc", "{:.2f}"),
    ("Paper WF1", "paper_wf1", "{:.2f}"),
]
TABLE_COLUMNS = {
    14: [("Flow EPE", "flow_epe", "{:.3f}"), ("EPE ratio", "flow_ratio", "{:.2f}x"), ("Paper EPE", "paper_epe", "{:.3f}")],
    15: [
        ("Landmark NME", "landmark_nme", "{:.2f}"),
        ("Failure rate", "landmark_failure", "{:.2f}"),
        ("NME ratio", "landmark_ratio", "{:.2f}x"),
        ("Paper NME", "paper_nme", "{:.2f}"),
        ("Paper failure rate", "paper_failure", "{:.2f}"),
    ],
}


def ablation_markdown(table: pd.DataFrame) -> str:
    lines = [
        "# Ablations",
        "",
        "Our runs beside the paper's Tables 8-15 (paper: CASME II, five classes). Acc, WF1 "
        f"in %, flow EPE in pixels against TV-L1, {NME_UNITS}, failure rate: % of frames with NME above 10%; each ratio "
        "is the error over its trivial baseline (no motion; the training mean shape: below 1, the head learned); n/a "
        "where a head is off. Tables 14 and 15 give the flow and landmark heads of MOL and its variants without the MER "
        "head (w/o MER), the optical flow head (w/o OFE) or the landmark head (w/o FLD).",
    ]
    for number, group in table.groupby("table", sort=True, dropna=False):
        columns = ABLATION_COLUMNS if pd.isna(number) else TABLE_COLUMNS.get(int(number), ABLATION_COLUMNS)
        lines += [
            "",
            f"## Table {int(number)}" if not pd.isna(number) else "## Other",
            "",
            "| Variant | " + " | ".join(title for title, _, _ in columns) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for row in group.itertuples():
            cells = [form.format(getattr(row, column)) if not pd.isna(getattr(row, column)) else "n/a" for _, column, form in columns]
            lines.append(f"| {row.variant} (`{row.experiment}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("experiment")
    exp.add_argument("--name", required=True)
    exp.add_argument("--class-names", required=True)
    exp.add_argument(
        "--protocol",
        default="loso",
        choices=list(PROTOCOL_FOLDS),
        help="the experiment's protocol: with cross and lodo each fold names the dataset it tested",
    )
    exp.add_argument("--out-dir", required=True)
    exp.add_argument("--config", default=None, type=existing_file, help="the experiment's record, results/{experiment}/config.yaml")
    exp.add_argument("predictions", nargs="+", type=existing_file)
    seeds = sub.add_parser("seeds")
    seeds.add_argument("--name", required=True)
    seeds.add_argument("--seeds", required=True, help="JSON list of the seeds, in the order of the metrics files")
    seeds.add_argument("--out-dir", required=True)
    seeds.add_argument("metrics", nargs="+", type=existing_file, help="each seed run's metrics.csv")
    summ = sub.add_parser("summary")
    summ.add_argument("--out", required=True)
    summ.add_argument("metrics", nargs="+", type=existing_file)
    abl = sub.add_parser("ablations")
    abl.add_argument("--out", required=True)
    abl.add_argument("--table", required=True)
    abl.add_argument("metrics", nargs="+", type=existing_file)
    for listing in (summ, abl):
        listing.add_argument("--paper-results", default=None, type=existing_file, help="resources/paper_results.yaml")
        listing.add_argument("--paper", default="{}", help="JSON {experiment: key of the paper results}")
    args = parser.parse_args(argv)
    if args.command == "experiment":
        write_experiment(args.name, args.predictions, json_argument(args.class_names, "--class-names"), args.out_dir, args.protocol, args.config)
        print((Path(args.out_dir) / "metrics.md").read_text())
    elif args.command == "seeds":
        write_seeds(args.name, args.metrics, json_argument(args.seeds, "--seeds"), args.out_dir)
        print((Path(args.out_dir) / "metrics.md").read_text())
    elif args.command == "summary":
        text = summary_markdown(args.metrics, json_argument(args.paper, "--paper"), load_paper_results(args.paper_results))
        write_text(args.out, text)
        print(text)
    else:
        table = ablation_table(args.metrics, json_argument(args.paper, "--paper"), load_paper_results(args.paper_results))
        write_csv(table, args.table)
        text = ablation_markdown(table)
        write_text(args.out, text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
