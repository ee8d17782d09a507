"""``results/ablations.md`` and ``.csv``: the ablation variants in the paper's layout
(Tables 8-15), each of our runs beside the paper's row it reproduces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .metrics_table import MetricsTable
from .record import paper_keys
from .tables import NME_UNITS, markdown_table


def ablation_table(metric_files: list[str], paper: dict, paper_results: dict) -> pd.DataFrame:
    """One row per ablation experiment and paper row it names (a variant may stand in
    several tables: MOL w/o MER in Tables 14 and 15): table, the paper's row name, ours,
    the paper's."""
    rows = []
    for file in metric_files:
        path = Path(file)
        ours = MetricsTable.read(path).rows()["pooled"]
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
    """ablations.md of :func:`ablation_table`'s table: a section per paper table, each variant a row."""
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
        rows = [
            [
                f"{row.variant} (`{row.experiment}`)",
                *(form.format(getattr(row, column)) if not pd.isna(getattr(row, column)) else "n/a" for _, column, form in columns),
            ]
            for row in group.itertuples()
        ]
        lines += [
            "",
            f"## Table {int(number)}" if not pd.isna(number) else "## Other",
            "",
            markdown_table(["Variant", *(title for title, _, _ in columns)], rows),
        ]
    return "\n".join(lines) + "\n"
