"""The Snakemake workflow: lint, a tiny end-to-end run, and what a config change re-runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import FACES, REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]

TINY = {
    "cache_dir": "cache",
    "synthetic": {"faces": str(FACES), "root": "data/synthetic", "subjects": 3, "videos_per_class": 1, "frames": 8, "pad_frames": 1, "seed": 1},
    "datasets": {"synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 5}},
    "sampling": {"frames": 4},
    "experiments": {
        "tiny": {
            "dataset": "synthetic",
            "model": {"flow_width": 0.125, "fusion": "subtract"},
            "train": {"steps": 2, "batch_size": 4, "lr": 0.001, "eval_every": 1},
        }
    },
    "threads": {"synthetic": 2, "preprocess": 1, "train": 1},
}


def snakemake(workdir: Path, *args: str) -> str:
    result = subprocess.run(SNAKEMAKE + ["--directory", str(workdir), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> count from a dry run's "Job stats" table."""
    table = output.split("Job stats:", 1)[1] if "Job stats:" in output else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def test_lint_is_clean():
    out = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in out


def test_dry_run_of_a_fresh_directory_plans_every_step(tmp_path):
    write_config(tmp_path, TINY)
    plan = planned_jobs(snakemake(tmp_path, "-n"))
    assert {"synthetic_dataset", "videos", "clips", "showcase", "experiment_report", "summary"} <= set(plan), plan
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    write_config(workdir, TINY)
    snakemake(workdir, "--cores", "2")
    return workdir


def test_tiny_run_produces_every_output(finished_run):
    w = finished_run
    videos = pd.read_parquet(w / "results/synthetic/videos.parquet")
    assert len(videos) == 15 and videos.subject.nunique() == 3
    stores = sorted((w / "cache/synthetic").glob("*/*/*.zarr"))
    assert len(stores) == 15
    clips = pd.read_parquet(w / "results/synthetic/clips.parquet")
    assert len(clips) == 30 and clips.frames.map(len).eq(4).all()
    for fold in ("sub01", "sub02", "sub03"):
        for name in ("model.pt", "predictions.parquet", "log.csv"):
            assert (w / "results/tiny/folds" / fold / name).is_file()
    metrics = pd.read_csv(w / "results/tiny/metrics.csv").set_index("metric")
    assert set(metrics.index) >= {"acc", "wf1", "uf1", "uar", "flow_epe", "landmark_nme"}
    assert metrics.loc["acc", "pooled"] == pytest.approx(
        pd.concat(pd.read_parquet(p) for p in (w / "results/tiny/folds").glob("*/predictions.parquet")).pipe(
            lambda p: (p.pred == p.label).mean()
        )
    )
    summary = (w / "results/summary.md").read_text()
    assert "| tiny |" in summary
    import cv2

    assert cv2.imread(str(w / "results/tiny/confusion.png")) is not None and cv2.imread(str(w / "results/tiny/curves.png")) is not None
    assert "flow_epe_exact" in set(metrics.index)  # the synthetic set's exact ground truth
    assert metrics.loc["flow_epe_zero", "pooled"] > 0  # TV-L1 sees the synthetic motion
    examples = json.loads((w / "results/tiny/examples/examples.json").read_text())
    assert len(examples["videos"]) == 2 and all(v["model"]["fold"] == "sub01" for v in examples["videos"])
    assert all(cv2.imread(str(w / f"results/tiny/examples/example_{i}.png")) is not None for i in range(2))
    assert all((w / "results/logs").rglob("*.log"))


def test_html_report_holds_the_figures(finished_run):
    snakemake(finished_run, "--report", "report.html")
    html = (finished_run / "report.html").read_text(errors="replace")
    assert len(html) > 100_000 and "confusion.png" in html and "curves.png" in html and "example_0.png" in html
    assert "skipped.csv" in html  # the videos left out, with the reasons


def test_finished_run_schedules_nothing(finished_run):
    out = snakemake(finished_run, "-n")
    assert "Nothing to be done" in out, out[-2000:]


def test_training_change_reruns_only_training_and_reports(finished_run, tmp_path):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["experiments"]["tiny"]["train"]["steps"] = 3
    write_config(finished_run, config)
    try:
        plan = planned_jobs(snakemake(finished_run, "-n"))
    finally:
        write_config(finished_run, TINY)
    assert plan == {"train": 3, "experiment_report": 1, "showcase": 1, "summary": 1, "all": 1}, plan


def test_a_lock_timeout_reruns_nothing(finished_run):
    """How long a job may wait for a lock changes nothing a job makes (issue 15, item 8)."""
    write_config(finished_run, {**TINY, "lock_timeout": 5})
    try:
        out = snakemake(finished_run, "-n")
    finally:
        write_config(finished_run, TINY)
    assert "Nothing to be done" in out, out[-2000:]


def test_landmark_change_rebuilds_stores_under_a_new_key(finished_run):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["preprocess"] = {"landmark_upscale": 2}
    write_config(finished_run, config)
    try:
        plan = planned_jobs(snakemake(finished_run, "-n"))
    finally:
        write_config(finished_run, TINY)
    assert plan.get("preprocess") == 15 and "synthetic_dataset" not in plan and "videos" not in plan, plan


def test_ablations_are_one_target(finished_run):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["ablations"] = {"base": "tiny", "variants": ["no_ofe_fld", "onset_apex"]}
    write_config(finished_run, config)
    try:
        snakemake(finished_run, "--cores", "2", "ablations")
    finally:
        write_config(finished_run, TINY)
    table = (finished_run / "results/ablations.md").read_text()
    assert "## Table 8" in table and "MOL w/o OFE&FLD (`ablation_no_ofe_fld`)" in table and "66.55" in table
    assert "## Table 13" in table and "2 (onset and apex)" in table and "79.88" in table
    onset_apex = pd.read_parquet(finished_run / "results/synthetic/samplings/onset_apex_t2/clips.parquet")
    assert len(onset_apex) == 15 and onset_apex.frames.map(len).eq(2).all()
    videos = pd.read_parquet(finished_run / "results/synthetic/videos.parquet").set_index(["subject", "video"])
    for row in onset_apex.itertuples():
        v = videos.loc[(row.subject, row.video)]
        assert list(row.frames) == [0, v.apex - v.onset]
    no_aux = pd.read_csv(finished_run / "results/ablation_no_ofe_fld/metrics.csv").set_index("metric")
    assert "flow_epe" not in no_aux.index and "acc" in no_aux.index


def test_readme_rebuild_recipe_and_damaged_stores(finished_run, tmp_path):
    """Deleting one key's folder replans every video of it; a deleted chunk replans its video
    alone (the marker is dropped when planning, with the reason)."""
    cache = finished_run / "cache"
    backup = tmp_path / "cache"
    shutil.copytree(cache, backup, symlinks=True)
    try:
        (key,) = [p for p in (cache / "synthetic").iterdir() if p.is_dir()]
        store = sorted(key.glob("*/*.zarr"))[0]
        (store / "frames/c/1/0/0").unlink()
        out = snakemake(finished_run, "-n")
        plan = planned_jobs(out)
        assert plan.get("preprocess") == 1 and plan.get("train") == 3, plan
        assert f"{store.relative_to(finished_run)}/frames/c/1/0/0: chunk file missing; the video will be preprocessed again" in out
        shutil.rmtree(key)
        plan = planned_jobs(snakemake(finished_run, "-n"))
        assert plan.get("preprocess") == 15 and plan.get("clips") == 1 and plan.get("train") == 3, plan
    finally:
        shutil.rmtree(cache)
        shutil.copytree(backup, cache, symlinks=True)
    assert "Nothing to be done" in snakemake(finished_run, "-n")


def test_flow_change_recomputes_flow_only(finished_run):
    """Runs last: it changes the finished run for good."""
    stores = sorted((finished_run / "cache/synthetic").glob("*/*/*.zarr"))
    frames_written = {p: (p / "frames" / "zarr.json").stat().st_mtime_ns for p in stores}
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["preprocess"] = {"flow": {"nscales": 3, "warps": 3}}
    write_config(finished_run, config)
    plan = planned_jobs(snakemake(finished_run, "-n"))
    assert plan.get("preprocess") == 15 and "synthetic_dataset" not in plan and "videos" not in plan, plan
    snakemake(finished_run, "--cores", "2")
    assert sorted((finished_run / "cache/synthetic").glob("*/*/*.zarr")) == stores
    assert {p: (p / "frames" / "zarr.json").stat().st_mtime_ns for p in stores} == frames_written
    from mol_core.clips.sampling import Sampling
    from mol_core.store.keys import PreprocessSettings, flow_name

    new_flow = flow_name(Sampling(4), PreprocessSettings(flow={"nscales": 3, "warps": 3}))
    logs = list((finished_run / "results/logs/synthetic/preprocess").glob(f"*/{new_flow}/*/*.log"))
    assert len(logs) == 15 and all("store reused from the cache" in log.read_text() for log in logs)
    flows = [{f.name for f in (p / "flow").iterdir() if f.is_dir()} for p in stores]
    assert all(new_flow in names and len(names) == 3 for names in flows)  # t=4 before, t=4 now, onset-apex
