"""Seeds (issue 16, item 5): an experiment with ``seeds`` reports each metric's mean and
sample standard deviation over its seed runs, beside each seed's pooled figure; the summary
shows mean ± std."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mol_core.report import main as report_main
from mol_core.report import summary_markdown, write_experiment

NAMES = ["negative", "positive", "surprise"]


def seed_run(folder, preds: list[int]) -> str:
    """A seed run's report from three LOSO folds (one video each, labels 0 1 2)."""
    paths = []
    for i, pred in enumerate(preds):
        path = folder / "folds" / f"s{i}" / "predictions.parquet"
        path.parent.mkdir(parents=True)
        pd.DataFrame({"fold": [f"s{i}"], "dataset": "x", "subject": [f"s{i}"], "video": ["v"], "label": [i], "pred": [pred]}).to_parquet(path)
        paths.append(str(path))
    write_experiment(folder.name, paths, NAMES, folder)
    return str(folder / "metrics.csv")


def test_an_experiment_with_seeds_reports_mean_and_std_over_them(tmp_path, capsys):
    runs = [seed_run(tmp_path / "exp_seed0", [0, 1, 1]), seed_run(tmp_path / "exp_seed4", [0, 1, 2])]  # Acc 2/3, then 1
    out = tmp_path / "exp"
    assert report_main(["seeds", "--name", "exp", "--seeds", "[0, 4]", "--out-dir", str(out), *runs]) == 0
    table = pd.read_csv(out / "metrics.csv").set_index("metric")
    assert table.columns.tolist() == ["pooled", "seed_std", "seed_0", "seed_4"]
    assert table.loc["acc"].tolist() == pytest.approx([5 / 6, (1 - 2 / 3) / np.sqrt(2), 2 / 3, 1.0])
    assert table.loc["uar", "seed_0"] == pytest.approx(2 / 3) and table.loc["uar", "seed_std"] > 0
    folds = pd.read_csv(out / "per_fold.csv")
    assert folds.seed.tolist() == [0, 0, 0, 4, 4, 4] and folds.columns[0] == "seed"
    markdown = (out / "metrics.md").read_text()
    assert "| Metric | Mean ± std | seed 0 | seed 4 |" in markdown and "| Acc | 83.33 ± 23.57 | 66.67 | 100.00 |" in markdown
    assert "`exp_seed0`, `exp_seed4`" in markdown and markdown in capsys.readouterr().out
    # The summary shows mean ± std over seeds and counts folds per seed; a one-run row is unchanged.
    summary = summary_markdown([str(out / "metrics.csv"), runs[0]]).splitlines()
    assert [line for line in summary if line.startswith("| exp |")][0].startswith("| exp | 83.33 ± 23.57 |")
    assert [line for line in summary if line.startswith("| exp |")][0].endswith("| 3 × 2 seeds |  |")  # Folds, then Run (no record here)
    assert [line for line in summary if line.startswith("| exp_seed0 |")][0].startswith("| exp_seed0 | 66.67 |")


def test_seed_runs_must_match_the_seeds(tmp_path, capsys):
    runs = [seed_run(tmp_path / "exp_seed0", [0, 1, 2])]
    assert report_main(["seeds", "--name", "exp", "--seeds", "[0, 1]", "--out-dir", str(tmp_path / "exp"), *runs]) == 1
    assert "error: 1 metrics files for 2 seeds [0, 1]" in capsys.readouterr().err
