"""Tables 14-15 of the paper: flow and landmark heads trained without the MER head under LOSO
(no classification anywhere in their report), and the ablation table giving their EPE, NME
and failure rate beside the paper's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from mol_core import workflow_config as cfg
from mol_core.report import ablation_markdown, ablation_table, summary_markdown, write_experiment

from .helpers import REPO, markdown_row

NAMES = ["negative", "positive", "surprise"]


def no_mer_predictions(fold: str, epe: float, nme: float) -> pd.DataFrame:
    """Three videos of one LOSO fold as a model without the MER head predicts them: no pred."""
    return pd.DataFrame(
        {
            "fold": fold,
            "selection": "validation",
            "dataset": "synthetic",
            "subject": fold,
            "video": ["v0", "v1", "v2"],
            "label": [0, 1, 2],
            "n_clips": 2,
            "flow_epe": epe,
            "flow_epe_zero": 2 * epe,
            "landmark_nme": nme,
            "landmark_nme_mean_shape": 2 * nme,
            "landmark_failure": [0.0, 0.5, 1.0],
        }
    )


def test_a_report_without_the_mer_head_gives_flow_and_landmarks_only(tmp_path):
    out = tmp_path / "ablation_no_mer"
    paths = []
    for fold, epe, nme in (("sub01", 0.2, 0.04), ("sub02", 0.4, 0.06)):
        path = out / "folds" / fold / "predictions.parquet"
        path.parent.mkdir(parents=True)
        no_mer_predictions(fold, epe, nme).to_parquet(path)
        paths.append(str(path))
    metrics = write_experiment("ablation_no_mer", paths, NAMES, out).rows()
    assert not {"acc", "wf1", "uf1", "uar"} & set(metrics.index)
    assert np.isclose(metrics.pooled["flow_epe"], 0.3) and np.isclose(metrics.pooled["flow_epe_vs_baseline"], 0.5)
    assert np.isclose(metrics.pooled["landmark_nme"], 0.05) and np.isclose(metrics.pooled["landmark_failure"], 0.5)
    text = (out / "metrics.md").read_text()
    assert "No classification: the model has no MER head" in text and "Confusion matrix" not in text
    assert pd.read_csv(out / "confusion.csv").empty and (out / "confusion.png").stat().st_size > 0
    summary = summary_markdown([str(out / "metrics.csv")], {"ablation_no_mer": ["table14_no_mer", "table15_no_mer"]}, paper_results())
    table14 = "*paper* (Table 14: MOL w/o MER)"
    assert markdown_row(summary, table14) == [table14, *[""] * 7, "0.839", *[""] * 7]  # under Flow EPE
    table15 = "*paper* (Table 15: MOL w/o MER)"
    assert markdown_row(summary, table15) == [table15, *[""] * 10, "4.89", *[""] * 4]  # under Landmark NME


def paper_results() -> dict:
    return yaml.safe_load((REPO / "resources" / "paper_results.yaml").read_text())


def test_the_ablation_table_puts_each_variant_in_every_table_it_stands_in(tmp_path):
    files = []
    for name, rows in {
        "ablation_mol": {"acc": 0.8, "wf1": 0.7, "flow_epe": 0.5, "flow_epe_vs_baseline": 0.4, "landmark_nme": 0.03, "landmark_failure": 0.01},
        "ablation_no_mer": {"flow_epe": 0.6, "flow_epe_vs_baseline": 0.5, "landmark_nme": 0.04, "landmark_failure": 0.02},
        "ablation_no_mer_fld": {"flow_epe": 0.9, "flow_epe_vs_baseline": 0.7},
    }.items():
        path = tmp_path / name / "metrics.csv"
        path.parent.mkdir()
        pd.DataFrame({"metric": list(rows), "selection": "validation", "source": "", "pooled": list(rows.values())}).to_csv(path, index=False)
        files.append(str(path))
    variants = yaml.safe_load((REPO / "resources" / "ablations.yaml").read_text())
    config = {"experiments": {"base": {"dataset": "d"}}, "ablations": {"base": "base", "variants": ["mol", "no_mer", "no_mer_fld"]}}
    paper = {name: exp["paper"] for name, exp in cfg.ablation_experiments(config, variants).items()}
    table = ablation_table(files, paper, paper_results())
    assert sorted(zip(table.table, table.experiment, strict=True)) == [
        (8, "ablation_mol"),
        (14, "ablation_mol"),
        (14, "ablation_no_mer"),
        (14, "ablation_no_mer_fld"),
        (15, "ablation_mol"),
        (15, "ablation_no_mer"),
    ]
    table14, table15 = ablation_markdown(table).split("## Table 14")[1].split("## Table 15")
    assert markdown_row(table14, "MOL w/o MER (`ablation_no_mer`)")[1:] == ["0.600", "0.50x", "0.839"]
    assert markdown_row(table15, "MOL w/o MER (`ablation_no_mer`)")[1:] == ["4.00", "2.00", "n/a", "4.89", "2.42"]
    assert markdown_row(table14, "MOL w/o MER&FLD (`ablation_no_mer_fld`)")[1:] == ["0.900", "0.70x", "1.145"]
