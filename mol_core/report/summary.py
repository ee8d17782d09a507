"""``results/summary.md``: one row per experiment (its validation selection over all test
videos), sub-rows for its other selections and its sources, and the paper's rows beside it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .metrics_table import VALIDATION, MetricsTable
from .record import paper_keys, paper_settings_note, run_context
from .tables import NME_UNITS, SELECTION_NAMES, markdown_table, mean_std

# (column title, metric of metrics.csv; the paper's figure under it, "" where it reports none)
SUMMARY_COLUMNS = [
    ("Acc", "acc", "acc"),
    ("WF1", "wf1", "wf1"),
    ("UF1", "uf1", "uf1"),
    ("UAR", "uar", "uar"),
    ("majority Acc", "acc_majority", ""),
    ("majority UF1", "uf1_majority", ""),
    ("chance Acc", "acc_chance", ""),
    ("Flow EPE (px)", "flow_epe", "epe"),
    ("no motion", "flow_epe_zero", ""),
    ("EPE ratio", "flow_epe_vs_baseline", ""),
    ("Landmark NME", "landmark_nme", "nme"),
    ("mean shape", "landmark_nme_mean_shape", ""),
    ("NME ratio", "landmark_nme_vs_baseline", ""),
]
INTRO = (
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
    "code prints them. Rows marked *paper* give the figures the paper reports for the same experiment."
)


def summary_cells(rows: pd.DataFrame, missing: str = "n/a") -> list[str]:
    """The figures of :data:`SUMMARY_COLUMNS` from one selection and source's rows of a
    metrics.csv (indexed by metric): ``pooled``, ``± seed_std`` for an experiment with seeds;
    ``missing`` where the table has no row."""
    spread = rows["seed_std"] if "seed_std" in rows else pd.Series(dtype=float)
    return [mean_std(m, rows.at[m, "pooled"], spread.get(m)) if m in rows.index else missing for _, m, _ in SUMMARY_COLUMNS]


def paper_cells(row: dict) -> list[str]:
    """The paper's figures under :data:`SUMMARY_COLUMNS` (percent; EPE in pixels), blank where it reports none."""
    return ["" if key not in row else f"{row[key]:.3f}" if key == "epe" else f"{row[key]:.2f}" for _, _, key in SUMMARY_COLUMNS]


def folds_cell(per_fold: Path) -> str:
    """The summary's Folds cell: the folds of a run, ``<folds> × <k> seeds`` for seeds."""
    if not per_fold.exists():
        return "?"
    folds = pd.read_csv(per_fold)
    if "seed" not in folds:
        return str(len(folds))
    seeds = folds.seed.nunique()
    return f"{len(folds) // seeds} × {seeds} seeds"


def experiment_rows(metrics_file: Path, paper: dict[str, str], paper_results: dict) -> list[list[str]]:
    """An experiment's rows of the summary table: its own (with Folds and Run), one per
    other selection, one per source (blank where a source has no figure), one per paper row."""
    metrics = MetricsTable.read(metrics_file)
    name = metrics_file.parent.name
    rows = [[name, *summary_cells(metrics.rows()), folds_cell(metrics_file.with_name("per_fold.csv")), run_context(metrics_file)]]
    rows += [
        [f"{name}: {SELECTION_NAMES[selection]}", *summary_cells(metrics.rows(selection)), "", ""]
        for selection in metrics.selections
        if selection != VALIDATION
    ]
    rows += [[f"{name}: {source}", *summary_cells(metrics.rows(VALIDATION, source), missing=""), "", ""] for source in metrics.sources()]
    keys = paper_keys(paper.get(name))
    note = paper_settings_note(metrics_file) if keys else ""  # read once for all the experiment's paper rows
    for key in keys:
        reference = paper_results[key]
        rows.append([f"*paper* (Table {reference['table']}: {reference['row']}){note}", *paper_cells(reference), "", ""])
    return rows


def summary_markdown(metric_files: list[str], paper: dict[str, str] | None = None, paper_results: dict | None = None) -> str:
    """summary.md of ``metric_files`` (``results/{experiment}/metrics.csv``, in order);
    ``paper``: {experiment: a key of ``paper_results`` or a list of them}."""
    paper, paper_results = paper or {}, paper_results or {}
    header = ["Experiment", *(title for title, _, _ in SUMMARY_COLUMNS), "Folds", "Run"]
    rows = [row for file in metric_files for row in experiment_rows(Path(file), paper, paper_results)]
    table = markdown_table(header, rows, align="l" + "r" * (len(SUMMARY_COLUMNS) + 1) + "l")
    return "\n".join(["# Summary", "", INTRO, "", table]) + "\n"
