"""The full demo workflow (config.yaml as shipped), run in a temporary folder: slow
(about 16 minutes on 2 cores), selected by `make test-slow` and run by CI. It holds the demo
to issue 14's targets: both auxiliary heads at most 0.8x their trivial baselines, Acc >= 0.9."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from mol_core.report import MetricsTable

from .conftest import FACES, REPO


@pytest.mark.slow
def test_demo_learns_the_synthetic_classes(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["synthetic"]["faces"] = str(FACES)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "all"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = MetricsTable.read(tmp_path / "results/synthetic_loso/metrics.csv").rows()
    print((tmp_path / "results/summary.md").read_text())
    assert len(pd.read_csv(tmp_path / "results/synthetic_loso/per_fold.csv")) == config["synthetic"]["subjects"]
    assert metrics.loc["acc", "pooled"] >= 0.9  # chance: 0.2; measured 0.95 (2026-12-04)
    assert metrics.loc["uf1", "pooled"] >= 0.85
    # the heads learned: measured 0.63x (no motion) and 0.79x (the folds' training mean shapes), 2026-12-04
    assert 0 < metrics.loc["flow_epe_vs_baseline", "pooled"] <= 0.8
    assert 0 < metrics.loc["landmark_nme_vs_baseline", "pooled"] <= 0.8
    pretrain = pd.read_parquet(tmp_path / "results/synthetic_pretrain/folds/all/predictions.parquet")
    assert len(pretrain) and pretrain.subject.str.startswith("ext").all()  # only the extra identities
    again = subprocess.run(command + ["-n"], capture_output=True, text=True)
    assert "Nothing to be done" in again.stdout + again.stderr
