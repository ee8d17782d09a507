"""The workflow on a real one-node SLURM cluster, through workflow/profiles/slurm.

Selected only by ``make test-slurm`` (run by .ci/run): it installs Debian's slurm-wlm and
munge, starts the daemons, and stops them by PID. A GPU cannot be scheduled here, so
stand-ins for ``sbatch`` and ``srun`` (the job step inside each job) first in PATH record
every call and pass it on without the GPU request: their logs prove that training jobs ask
SLURM for a GPU.
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
from .helpers import TINY
from .slurm_cluster import slurm_cluster

pytestmark = pytest.mark.slurm

SHIM = """#!/bin/bash
# Records the call, then makes it without the GPU request (no GPU on this node).
echo "$@" >> "{log}"
args=()
for a in "$@"; do
  case "$a" in
    --gpus=*) ;;
    --cpus-per-gpu=*) args+=("--cpus-per-task=${{a#--cpus-per-gpu=}}") ;;
    *) args+=("$a") ;;
  esac
done
exec "{real}" "${{args[@]}}"
"""


def snakemake(workdir: Path, env: dict, *args: str) -> str:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    except subprocess.TimeoutExpired as stuck:  # e.g. a job SLURM can never schedule
        pytest.fail(f"snakemake ran past 15 minutes: {(stuck.stdout or b'')[-4000:]!r}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def outputs(workdir: Path) -> set[str]:
    """The workflow's outputs, relative to the work dir (logs and bookkeeping aside). The
    cache's store key (it hashes the dataset's absolute root, which differs between the two
    work dirs) reads as <key>."""
    found = {str(p.relative_to(workdir)) for p in (workdir / "results").rglob("*") if p.is_file() and "logs" not in p.parts}
    cache = [p.relative_to(workdir / "cache").parts for p in (workdir / "cache").glob("*/*/*/*.zarr")]
    cache += [p.relative_to(workdir / "cache").parts for p in (workdir / "cache").glob("*/*/*/*/*.json")]
    assert len({parts[1] for parts in cache}) == 1  # one store key
    return found | {"/".join(("cache", parts[0], "<key>", *parts[2:])) for parts in cache}


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
        plan = snakemake(cluster, env, "--workflow-profile", profile, "-n", "--slurm-no-account")
        assert re.search(r"rule synthetic_dataset", plan)
        shim_dir = tmp_path / "bin"
        shim_dir.mkdir()
        for program in ("sbatch", "srun"):
            real = subprocess.run(["which", program], capture_output=True, text=True, env=env).stdout.strip()
            (shim_dir / program).write_text(SHIM.format(log=tmp_path / f"{program}.log", real=real))
            (shim_dir / program).chmod(0o755)
        env = {**env, "PATH": f"{shim_dir}:{env['PATH']}"}  # sbatch --export=ALL passes it into the jobs
        snakemake(
            cluster,
            env,
            "--workflow-profile",
            profile,
            "--slurm-no-account",
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "5",
            "--slurm-keep-successful-logs",
            "--set-resources",
            "train:cpus_per_gpu=1",
            "--jobs",
            "4",
            "--cores",
            str(os.cpu_count()),
        )
        controller_log = (tmp_path / "slurm" / "slurmctld.log").read_text()

    submissions = (tmp_path / "sbatch.log").read_text().splitlines()
    assert submissions, "nothing was submitted"
    gpu_jobs = [s for s in submissions if "--gpus=1" in s]
    assert len(gpu_jobs) == 3, submissions  # one per fold, and only those
    assert all("train" in s for s in gpu_jobs) and not any("--gpus" in s for s in submissions if s not in gpu_jobs)
    steps = (tmp_path / "srun.log").read_text().splitlines()  # the job steps ask for it too
    assert sum("--gpus=1" in s for s in steps) == 3, steps
    # The 3 subjects' preprocessing (15 videos) went as one grouped job that fits the node.
    assert sum("group_preprocess" in s for s in submissions) == 1, submissions
    assert max(int(c) for c in re.findall(r"--cpus-per-task=(\d+)", " ".join(submissions))) <= os.cpu_count()
    # The main scheduler logs "sched: Allocate JobId=N", the backfill one "sched/backfill: _start_job: Started JobId=N".
    allocated = set(re.findall(r"(?:Allocate|Started) JobId=(\d+)", controller_log))
    assert len(allocated) == len(submissions), (sorted(allocated), len(submissions))
    slurm_logs = list((cluster / ".snakemake/slurm_logs").rglob("*.log"))
    assert len(slurm_logs) == len(submissions)
    assert outputs(cluster) == outputs(local)
    for table in ("results/synthetic/clips.parquet", "results/tiny/metrics.csv"):
        reader = pd.read_parquet if table.endswith(".parquet") else pd.read_csv
        pd.testing.assert_frame_equal(
            reader(cluster / table).drop(columns=["store"], errors="ignore"), reader(local / table).drop(columns=["store"], errors="ignore")
        )
