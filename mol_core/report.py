"""Pool fold predictions into an experiment's metrics, and experiments into a summary.

``python -m mol_core.report experiment --name EXP --class-names JSON --out-dir DIR PRED...``
writes ``metrics.csv`` (metric, pooled, fold_mean, fold_std), ``metrics.md``,
``per_fold.csv``, ``confusion.csv`` (counts, rows = truth) and, when the test videos come
from several datasets (the composite set), ``per_source.csv``. Classification metrics are
computed per video (clip logits averaged) and pooled over all folds into one confusion
matrix (MEGC convention); per-fold means and standard deviations are given beside them.

``python -m mol_core.report summary --out results/summary.md METRICS_CSV...`` writes one row
per experiment.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_csv, write_text
from .metrics import confusion_matrix, metrics_from_confusion

CLASSIFICATION = ["acc", "wf1", "uf1", "uar"]
AUXILIARY = ["flow_epe", "landmark_nme", "landmark_failure"]
LABELS = {"acc": "Acc", "wf1": "WF1", "uf1": "UF1", "uar": "UAR", "flow_epe": "Flow EPE (px)",
          "landmark_nme": "Landmark NME", "landmark_failure": "Landmark failure rate (NME > 10%)"}
PERCENT = set(CLASSIFICATION) | {"landmark_nme", "landmark_failure"}


def fold_metrics(predictions: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    rows = []
    for fold, group in predictions.groupby("fold", sort=True):
        matrix = confusion_matrix(group.label, group.pred, num_classes)
        rows.append({"fold": fold, "videos": len(group), **metrics_from_confusion(matrix),
                     **{m: float(group[m].mean()) for m in AUXILIARY}})
    return pd.DataFrame(rows)


def source_metrics(predictions: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """Pooled metrics of each source dataset's videos (Table 6 reports them for the composite set)."""
    rows = []
    for source, group in predictions.groupby("dataset", sort=True):
        matrix = confusion_matrix(group.label, group.pred, num_classes)
        rows.append({"dataset": source, "videos": len(group), "subjects": group.subject.nunique(),
                     **metrics_from_confusion(matrix)})
    return pd.DataFrame(rows)


def experiment_metrics(predictions: pd.DataFrame, num_classes: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(metrics table, per-fold table, pooled confusion matrix)."""
    matrix = confusion_matrix(predictions.label, predictions.pred, num_classes)
    pooled = {**metrics_from_confusion(matrix), **{m: float(predictions[m].mean()) for m in AUXILIARY}}
    per_fold = fold_metrics(predictions, num_classes)
    table = pd.DataFrame(
        [{"metric": m, "pooled": pooled[m], "fold_mean": per_fold[m].mean(), "fold_std": per_fold[m].std(ddof=0)}
         for m in CLASSIFICATION + AUXILIARY]
    )
    return table, per_fold, matrix


def _fmt(metric: str, value: float) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    return f"{100 * value:.2f}" if metric in PERCENT else f"{value:.3f}"


def metrics_markdown(name: str, table: pd.DataFrame, matrix: np.ndarray, class_names: list[str], n_videos: int, n_folds: int,
                     per_source: pd.DataFrame | None = None) -> str:
    lines = [f"# {name}", "", f"{n_videos} test videos in {n_folds} leave-one-subject-out folds. "
             "Classification metrics in %, per video, pooled over all folds; NME in % of the inter-ocular distance.", "",
             "| Metric | Pooled | Fold mean ± std |", "|---|---:|---:|"]
    for row in table.itertuples():
        lines.append(f"| {LABELS[row.metric]} | {_fmt(row.metric, row.pooled)} | "
                     f"{_fmt(row.metric, row.fold_mean)} ± {_fmt(row.metric, row.fold_std)} |")
    if per_source is not None:
        lines += ["", "By source dataset (pooled over its folds):", "",
                  "| Dataset | Videos | Subjects | Acc | WF1 | UF1 | UAR |", "|---|---:|---:|---:|---:|---:|---:|"]
        for row in per_source.itertuples():
            lines.append(f"| {row.dataset} | {row.videos} | {row.subjects} | "
                         + " | ".join(_fmt(m, getattr(row, m)) for m in CLASSIFICATION) + " |")
    lines += ["", "Confusion matrix (rows: truth, columns: prediction):", "",
              "| | " + " | ".join(class_names) + " |", "|---|" + "---:|" * len(class_names)]
    for name_, counts in zip(class_names, matrix):
        lines.append(f"| {name_} | " + " | ".join(str(int(c)) for c in counts) + " |")
    return "\n".join(lines) + "\n"


def write_experiment(name: str, prediction_files: list[str], class_names: list[str], out_dir: str | Path) -> pd.DataFrame:
    out_dir = Path(out_dir)
    predictions = pd.concat([pd.read_parquet(f) for f in prediction_files], ignore_index=True)
    if predictions.empty:
        raise ValueError(f"{name}: no test predictions in {len(prediction_files)} fold file(s)")
    table, per_fold, matrix = experiment_metrics(predictions, len(class_names))
    write_csv(table, out_dir / "metrics.csv")
    write_csv(per_fold, out_dir / "per_fold.csv")
    write_csv(pd.DataFrame(matrix, index=class_names, columns=class_names).reset_index(names="truth"), out_dir / "confusion.csv")
    per_source = None
    if predictions.dataset.nunique() > 1:
        per_source = source_metrics(predictions, len(class_names))
        write_csv(per_source, out_dir / "per_source.csv")
    write_text(out_dir / "metrics.md", metrics_markdown(name, table, matrix, class_names, len(predictions),
                                                        predictions.fold.nunique(), per_source))
    return table


def summary_markdown(metric_files: list[str]) -> str:
    header = ["Experiment", "Acc", "WF1", "UF1", "UAR", "Flow EPE (px)", "Landmark NME", "Folds"]
    lines = ["# Summary", "", "Classification metrics in %, per video, pooled over all folds (MEGC convention); "
             "flow EPE of the flow head against TV-L1, landmark NME in % against dlib.", "",
             "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for path in metric_files:
        path = Path(path)
        table = pd.read_csv(path).set_index("metric")["pooled"]
        per_fold = path.with_name("per_fold.csv")
        n_folds = len(pd.read_csv(per_fold)) if per_fold.exists() else "?"
        cells = [path.parent.name] + [_fmt(m, table.get(m, np.nan)) for m in CLASSIFICATION + ["flow_epe", "landmark_nme"]]
        lines.append("| " + " | ".join(cells + [str(n_folds)]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("experiment")
    exp.add_argument("--name", required=True)
    exp.add_argument("--class-names", required=True)
    exp.add_argument("--out-dir", required=True)
    exp.add_argument("predictions", nargs="+")
    summ = sub.add_parser("summary")
    summ.add_argument("--out", required=True)
    summ.add_argument("metrics", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "experiment":
            write_experiment(args.name, args.predictions, json.loads(args.class_names), args.out_dir)
            print((Path(args.out_dir) / "metrics.md").read_text())
        else:
            text = summary_markdown(args.metrics)
            write_text(args.out, text)
            print(text)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
