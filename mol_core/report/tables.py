"""How every report writes a figure and a markdown table: one table helper
(:func:`markdown_table`, pandas' ``to_markdown``, which tabulate renders), the metrics' labels
and units, and the names each selection goes by."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .metrics_table import AUXILIARY, CLASSIFICATION, CLASSIFIER_BASELINES, RATIOS, VALIDATION

LABELS = {
    "acc": "Acc",
    "wf1": "WF1",
    "uf1": "UF1",
    "uar": "UAR",
    "acc_majority": "baseline: majority training class, Acc",
    "wf1_majority": "baseline: majority training class, WF1",
    "uf1_majority": "baseline: majority training class, UF1",
    "uar_majority": "baseline: majority training class, UAR",
    "acc_chance": "baseline: chance (1 / classes), Acc",
    "pred_top_share": "share of videos given the model's most frequent class",
    "flow_epe": "Flow EPE vs TV-L1 (px)",
    "flow_epe_zero": "baseline: no motion, vs TV-L1 (px)",
    "flow_epe_vs_baseline": "ratio to the baseline (< 1: the head beats no motion)",
    "flow_epe_exact": "Flow EPE vs exact flow (px)",
    "flow_epe_zero_exact": "baseline: no motion, vs exact flow (px)",
    "flow_epe_exact_vs_baseline": "ratio to the baseline",
    "flow_epe_tvl1_exact": "teacher: TV-L1 vs exact flow (px)",
    "landmark_nme": "Landmark NME vs dlib",
    "landmark_nme_mean_shape": "baseline: training mean shape, vs dlib",
    "landmark_nme_vs_baseline": "ratio to the baseline (< 1: the head beats the mean shape)",
    "landmark_nme_exact": "Landmark NME vs exact landmarks",
    "landmark_nme_mean_shape_exact": "baseline: training mean shape, vs exact landmarks",
    "landmark_nme_exact_vs_baseline": "ratio to the baseline",
    "landmark_nme_dlib_exact": "teacher: dlib vs exact landmarks",
    "landmark_failure": "Landmark failure rate (NME > 10%)",
    "landmark_failure_mean_shape": "baseline: training mean shape",
}
PERCENT = set(CLASSIFICATION) | set(CLASSIFIER_BASELINES) | {m for m in AUXILIARY if m.startswith("landmark_")}
NME_UNITS = "NME in % of the eye-centre distance (the authors' normaliser, as in the paper's Table 15)"
# The selections beside the validation one, each with what every table says of it.
SELECTION_TITLES = {
    "best_test": "best test step (LEAKY: an oracle, each fold's checkpoint chosen on its test videos, as the authors' code keeps it)",
    "authors": "the authors' protocol (NOT COMPARABLE: the last step, counted per clip, as the authors' code prints it)",
}
SELECTION_MARKS = {"best_test": "LEAKY", "authors": "NOT COMPARABLE"}
# Their names in a table's row (the summary's sub-rows, the rows of an experiment with seeds).
SELECTION_NAMES = {"best_test": "best test step (LEAKY)", "authors": "the authors' protocol (NOT COMPARABLE)"}
ALIGNMENTS = {"l": "left", "r": "right"}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A GitHub (pipe) markdown table of ``rows`` under ``header``, each cell written as given
    (``str``; no number is re-parsed or re-rounded), padded so that the columns line up.
    ``align``: one letter a column, ``l`` or ``r``; by default the first column left and the
    others, figures, right. No trailing newline."""
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header):
        raise ValueError(f"{len(align)} alignments for {len(header)} columns")
    cells = pd.DataFrame([[str(cell) for cell in row] for row in rows], columns=list(header), dtype=object)
    return cells.to_markdown(index=False, tablefmt="pipe", colalign=[ALIGNMENTS[a] for a in align], disable_numparse=True)


def format_value(metric: str, value: float | None) -> str:
    """A figure as every table shows it: classification and landmark metrics in % (2
    decimals), ratios as ``0.77x``, pixels with 3 decimals; ``n/a`` for no value."""
    if value is None or np.isnan(value):
        return "n/a"
    if metric in RATIOS:
        return f"{value:.2f}x"
    return f"{100 * value:.2f}" if metric in PERCENT else f"{value:.3f}"


def mean_std(metric: str, mean: float, std: float | None) -> str:
    """``mean ± std`` in the metric's format; the mean alone without a spread (NaN)."""
    return format_value(metric, mean) + ("" if std is None or np.isnan(std) else f" ± {format_value(metric, std)}")


def metric_label(metric: str, selection: str = VALIDATION, source: str = "") -> str:
    """A row's label: ``UF1``; ``UF1 (samm)`` for a source; ``Acc, best test step (LEAKY)``
    for a selection other than the validation one."""
    label = LABELS[metric] + (f" ({source})" if source else "")
    return label if selection == VALIDATION else f"{label}, {SELECTION_NAMES[selection]}"
