"""Seeds (issue 16, item 5): an experiment with ``seeds`` reports each metric's mean and
sample standard deviation over its seed runs, beside each seed's pooled figure; the summary
shows mean ± std."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mol_core.report import MetricsTable, summary_markdown, write_experiment
from mol_core.report import main as report_main

from .helpers import markdown_row, markdown_rows

NAMES = ["negative", "positive", "surprise"]


def seed_run(folder, preds: list[int], datasets=("x", "x", "x"), best_test: bool = False) -> str:
    """A seed run's report from three LOSO folds (one video each, labels 0 1 2, of ``datasets``;
    with ``best_test`` a leaky row per video too, always right)."""
    paths = []
    for i, pred in enumerate(preds):
        path = folder / "folds" / f"s{i}" / "predictions.parquet"
        path.parent.mkdir(parents=True)
        row = {"fold": f"s{i}", "selection": "validation", "dataset": datasets[i], "subject": f"s{i}", "video": "v", "label": i, "pred": pred}
        pd.DataFrame([row] + ([{**row, "selection": "best_test", "pred": i}] if best_test else [])).to_parquet(path)
        paths.append(str(path))
    write_experiment(folder.name, paths, NAMES, folder)
    return str(folder / "metrics.csv")


def test_an_experiment_with_seeds_reports_mean_and_std_over_them(tmp_path, capsys):
    runs = [seed_run(tmp_path / "exp_seed0", [0, 1, 1]), seed_run(tmp_path / "exp_seed4", [0, 1, 2])]  # Acc 2/3, then 1
    out = tmp_path / "exp"
    assert report_main(["seeds", "--name", "exp", "--seeds", "[0, 4]", "--out-dir", str(out), *runs]) == 0
    table = MetricsTable.read(out / "metrics.csv")
    assert table.frame.columns.tolist() == ["metric", "selection", "source", "pooled", "seed_std", "seed_0", "seed_4"]
    assert table.rows().loc["acc"].tolist() == pytest.approx([5 / 6, (1 - 2 / 3) / np.sqrt(2), 2 / 3, 1.0])
    assert table.value("uar", "seed_0") == pytest.approx(2 / 3) and table.value("uar", "seed_std") > 0
    folds = pd.read_csv(out / "per_fold.csv")
    assert folds.seed.tolist() == [0, 0, 0, 4, 4, 4] and folds.columns[0] == "seed"
    markdown = (out / "metrics.md").read_text()
    assert markdown_rows(markdown)[0] == ["Metric", "Mean ± std", "seed 0", "seed 4"]
    assert markdown_row(markdown, "Acc") == ["Acc", "83.33 ± 23.57", "66.67", "100.00"]
    assert "`exp_seed0`, `exp_seed4`" in markdown and markdown in capsys.readouterr().out
    # The summary shows mean ± std over seeds and counts folds per seed; a one-run row is unchanged.
    summary = summary_markdown([str(out / "metrics.csv"), runs[0]])
    assert markdown_row(summary, "exp")[1] == "83.33 ± 23.57"
    assert markdown_row(summary, "exp")[-2:] == ["3 × 2 seeds", ""]  # Folds, then Run (no record here)
    assert markdown_row(summary, "exp_seed0")[1] == "66.67"


def test_seed_rows_keep_their_source_and_selection(tmp_path):
    """Each (metric, selection, source) row is averaged on its own: the samm videos score 1/2,
    then 2/2; the leaky selection is right both times."""
    two_sources = ("casme2", "samm", "samm")
    runs = [seed_run(tmp_path / f"exp_seed{seed}", preds, two_sources, best_test=True) for seed, preds in ((0, [0, 1, 1]), (1, [0, 1, 2]))]
    out = tmp_path / "exp"
    assert report_main(["seeds", "--name", "exp", "--seeds", "[0, 1]", "--out-dir", str(out), *runs]) == 0
    table = MetricsTable.read(out / "metrics.csv")
    assert table.sources() == ["casme2", "samm"] and table.selections == ["validation", "best_test"]
    assert table.rows(source="samm").loc["acc"].tolist() == pytest.approx([0.75, 0.5 / np.sqrt(2), 0.5, 1.0])
    assert table.rows(selection="best_test").loc["acc"].tolist() == [1.0, 0.0, 1.0, 1.0]
    markdown = (out / "metrics.md").read_text()
    assert markdown_row(markdown, "Acc (samm)") == ["Acc (samm)", "75.00 ± 35.36", "50.00", "100.00"]  # in %, as every Acc
    assert markdown_row(markdown, "Acc, best test step (LEAKY)") == ["Acc, best test step (LEAKY)", "100.00 ± 0.00", "100.00", "100.00"]
    summary = summary_markdown([str(out / "metrics.csv")])
    assert markdown_row(summary, "exp: samm")[1] == "75.00 ± 35.36" and markdown_row(summary, "exp: casme2")[1] == "100.00 ± 0.00"
    assert markdown_row(summary, "exp: best test step (LEAKY)")[1] == "100.00 ± 0.00"


def test_seed_runs_must_match_the_seeds(tmp_path, capsys):
    runs = [seed_run(tmp_path / "exp_seed0", [0, 1, 2])]
    assert report_main(["seeds", "--name", "exp", "--seeds", "[0, 1]", "--out-dir", str(tmp_path / "exp"), *runs]) == 1
    assert "error: 1 metrics files for 2 seeds [0, 1]" in capsys.readouterr().err
