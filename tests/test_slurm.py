"""The workflow on a real one-node SLURM cluster, through workflow/profiles/slurm.

Selected only by ``make test-slurm`` (run by .ci/run): it installs Debian's slurm-wlm and
munge, starts the daemons, and stops them by PID. A GPU cannot be scheduled here, so a
stand-in ``sbatch`` first in PATH records every submission and passes it on to the real
sbatch without the GPU request: the log proves that training jobs ask SLURM for a GPU.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import REPO
from .slurm_cluster import slurm_cluster
from .test_workflow import TINY

pytestmark = pytest.mark.slurm

SBATCH_SHIM = """#!/bin/bash
# Records the submission, then submits it without the GPU request (no GPU on this node).
echo "$@" >> "{log}"
args=()
for a in "$@"; do
  case "$a" in
    --gpus=*) ;;
    --cpus-per-gpu=*) args+=("--cpus-per-task=${{a#--cpus-per-gpu=}}") ;;
    *) args+=("$a") ;;
  esac
done
exec "{sbatch}" "${{args[@]}}"
"""


def snakemake(workdir: Path, env: dict, *args: str) -> str:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def outputs(workdir: Path) -> set[str]:
    """The workflow's outputs, relative to the work dir (logs and bookkeeping aside)."""
    found = {str(p.relative_to(workdir)) for p in (workdir / "results").rglob("*") if p.is_file() and "logs" not in p.parts}
    found |= {str(p.relative_to(workdir)) for p in (workdir / "cache").glob("*/*/*/*.zarr")}
    found |= {str(p.relative_to(workdir)) for p in (workdir / "cache").glob("*/*/*/*/*.json")}
    return found


def test_workflow_runs_through_slurm_like_locally(tmp_path):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["threads"] = {"synthetic": 1, "preprocess": 1, "train": 1}
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    for workdir in (local, cluster):
        workdir.mkdir()
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(local, dict(os.environ), "--workflow-profile", str(REPO / "workflow/profiles/local"), "--cores", "2")

    with slurm_cluster(tmp_path / "slurm") as env:
        profile = str(REPO / "workflow/profiles/slurm")
        # The plan under the slurm profile: every training job asks for one GPU.
        plan = snakemake(cluster, env, "--workflow-profile", profile, "-n", "--slurm-no-account")
        assert re.search(r"rule synthetic_dataset", plan)
        shim_dir, log = tmp_path / "bin", tmp_path / "sbatch.log"
        shim_dir.mkdir()
        real = subprocess.run(["which", "sbatch"], capture_output=True, text=True, env=env).stdout.strip()
        (shim_dir / "sbatch").write_text(SBATCH_SHIM.format(log=log, sbatch=real))
        (shim_dir / "sbatch").chmod(0o755)
        env = {**env, "PATH": f"{shim_dir}:{env['PATH']}"}
        snakemake(cluster, env, "--workflow-profile", profile, "--slurm-no-account", "--slurm-status-command", "squeue",
                  "--slurm-init-seconds-before-status-checks", "5", "--slurm-keep-successful-logs",
                  "--set-resources", "train:cpus_per_gpu=1", "--jobs", "4")
        controller_log = (tmp_path / "slurm" / "slurmctld.log").read_text()

    submissions = log.read_text().splitlines()
    assert submissions, "nothing was submitted"
    gpu_jobs = [s for s in submissions if "--gpus=1" in s]
    assert len(gpu_jobs) == 3, submissions  # one per fold, and only those
    assert all("train" in s for s in gpu_jobs) and not any("--gpus" in s for s in submissions if s not in gpu_jobs)
    allocated = re.findall(r"Allocate JobId=(\d+)", controller_log)
    assert len(allocated) == len(submissions), (len(allocated), len(submissions))
    slurm_logs = list((cluster / ".snakemake/slurm_logs").rglob("*.log"))
    assert len(slurm_logs) == len(submissions)
    assert outputs(cluster) == outputs(local)
    for table in ("results/synthetic/clips.parquet", "results/tiny/metrics.csv"):
        reader = pd.read_parquet if table.endswith(".parquet") else pd.read_csv
        pd.testing.assert_frame_equal(reader(cluster / table).drop(columns=["store"], errors="ignore"),
                                      reader(local / table).drop(columns=["store"], errors="ignore"))
