"""The Snakemake workflow: lint, a tiny end-to-end run, and what a config change re-runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mol_core.report import MetricsTable

from .conftest import REPO
from .helpers import PREPROCESS_JOB, TINY, markdown_row, markdown_rows, planned_jobs, snakemake, write_config


def test_lint_is_clean():
    out = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in out


def test_dry_run_of_a_fresh_directory_plans_every_step(tmp_path):
    write_config(tmp_path, TINY)
    plan = planned_jobs(snakemake(tmp_path, "-n"))
    assert {"synthetic_dataset", "videos", "clips", "showcase", "experiment_report", "summary"} <= set(plan), plan
    assert not (tmp_path / "results").exists()


def planned_inputs(output: str, rule: str) -> dict[str, list[str]]:
    """{wildcards: inputs} of every planned job of ``rule`` in a dry run's output."""
    jobs = re.finditer(rf"^rule {rule}:\n    input: (.*)\n(?:    (?!wildcards).*\n)*    wildcards: (.*)$", output, re.M)
    return {m.group(2): m.group(1).split(", ") for m in jobs}


def lodo_config(workdir: Path) -> dict:
    """TINY with the synthetic set in three classes beside fake CASME II, SAMM and CAS(ME)^3
    trees (their owners' layouts, no frames needed to plan), and one leave-one-dataset-out
    experiment over all four."""
    from .fake_datasets import casme2_distribution, casme3_distribution, samm_distribution, write_casme2, write_casme3, write_samm

    config = yaml.safe_load(yaml.safe_dump(TINY))
    fake = workdir / "fake"
    config["datasets"] = {
        "synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 3},
        "casme2_3": {"loader": "casme2", "root": str(write_casme2(fake / "CASME2", casme2_distribution(), with_frames=False)), "classes": 3},
        "samm_3": {"loader": "samm", "root": str(write_samm(fake / "SAMM", samm_distribution()[:3])), "classes": 3},
        "casme3_3": {"loader": "casme3", "root": str(write_casme3(fake / "CASME3", casme3_distribution()[:3])), "classes": 3},
    }
    tiny = config["experiments"].pop("tiny")
    del tiny["dataset"]
    config["experiments"] = {"lodo": {**tiny, "protocol": "lodo", "datasets": ["synthetic", "casme2_3", "samm_3", "casme3_3"]}}
    return config


def test_dry_run_of_leave_one_dataset_out_plans_one_training_per_held_out_dataset(tmp_path):
    """The folds of a lodo experiment are its datasets, known before any data is read: the
    dry run plans all four trainings, each reading the clip tables of the other three and
    testing the one left out; one report pools them, and the examples come from each fold's test set."""
    write_config(tmp_path, lodo_config(tmp_path))
    out = snakemake(tmp_path, "-n")
    plan = planned_jobs(out)
    assert plan["train"] == 4 and plan["videos"] == 4 and plan["clips"] == 4, plan
    assert plan["experiment_report"] == 1 and plan["summary"] == 1 and plan["showcase"] == 1, plan
    names = ["synthetic", "casme2_3", "samm_3", "casme3_3"]
    trainings = planned_inputs(out, "train")
    assert set(trainings) == {f"experiment=lodo, fold={held_out}" for held_out in names}
    for held_out in names:
        inputs = trainings[f"experiment=lodo, fold={held_out}"]
        assert inputs == [f"results/{d}/clips.parquet" for d in names if d != held_out] + [f"results/{held_out}/clips.parquet"]
    (report,) = planned_inputs(out, "experiment_report").values()
    assert report == [f"results/lodo/folds/{d}/predictions.parquet" for d in names] + ["results/lodo/config.yaml"]
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
    metrics = MetricsTable.read(w / "results/tiny/metrics.csv").rows()
    assert set(metrics.index) >= {"acc", "wf1", "uf1", "uar", "flow_epe", "landmark_nme"}
    assert metrics.loc["acc", "pooled"] == pytest.approx(
        pd.concat(pd.read_parquet(p) for p in (w / "results/tiny/folds").glob("*/predictions.parquet")).pipe(
            lambda p: (p.pred == p.label).mean()
        )
    )
    summary = (w / "results/summary.md").read_text()
    assert markdown_row(summary, "tiny")[-2] == "3"  # Folds
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
    # the experiment's record (results/tiny/config.yaml) holds its training settings too
    assert plan == {"train": 3, "experiment_config": 1, "experiment_report": 1, "showcase": 1, "summary": 1, "all": 1}, plan


def test_a_run_that_makes_the_summary_ends_by_printing_it_and_preprocessing_shows_one_line_a_job(finished_run):
    out = snakemake(finished_run, "--cores", "1", "--forcerun", "summary")
    assert "results/summary.md:\n\n# Summary" in out and markdown_row(out.split("results/summary.md:")[1], "tiny")
    out = snakemake(finished_run, "-n", "--forcerun", "preprocess")
    assert sorted(re.findall(PREPROCESS_JOB, out)) == ["sub01", "sub02", "sub03"] and "data/synthetic/sub01/" not in out  # no frame file listed
    assert "results/summary.md:" not in snakemake(finished_run, "-n")  # a dry run, or one that made nothing, prints no table


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
    assert plan.get("preprocess") == 3 and "synthetic_dataset" not in plan and "videos" not in plan, plan


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
    no_aux = MetricsTable.read(finished_run / "results/ablation_no_ofe_fld/metrics.csv").rows()
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
        before = cache_listing(cache)
        out = snakemake(finished_run, "-n")  # a dry run says what the run will do, and changes nothing
        assert "chunk file missing; the run (not this dry run, which changes nothing) will preprocess the video again" in out
        assert cache_listing(cache) == before
        out = snakemake(finished_run, "--cores", "2")
        assert f"{store.relative_to(finished_run)}/frames/c/1/0/0: chunk file missing; the video will be preprocessed again" in out
        assert re.findall(PREPROCESS_JOB, out) == [store.parent.name], out
        assert (store / "frames/c/1/0/0").is_file()
        shutil.rmtree(key)
        plan = planned_jobs(snakemake(finished_run, "-n"))
        assert plan.get("preprocess") == 3 and plan.get("clips") == 1 and plan.get("train") == 3, plan
    finally:
        shutil.rmtree(cache)
        shutil.copytree(backup, cache, symlinks=True)
    assert "Nothing to be done" in snakemake(finished_run, "-n")


def cache_listing(cache: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``cache`` with its size and modification time."""
    return {str(p.relative_to(cache)): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns) for p in sorted(cache.rglob("*"))}


def test_seeds_and_the_leaky_selection_report_both_rows_with_mean_and_std(finished_run):
    """``seeds: [0, 1]`` and ``selection: [validation, best_test, authors]``: the folds train
    once per seed on the same stores; the experiment's report and the summary give three
    named rows per metric, ours, the best test step (LEAKY) and the authors' protocol (NOT
    COMPARABLE), as mean ± std over seeds (issue 16, items 4 and 5; issue 26, item 4)."""
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["experiments"]["tiny"]["seeds"] = [0, 1]
    config["experiments"]["tiny"]["train"]["selection"] = ["validation", "best_test", "authors"]
    write_config(finished_run, config)
    try:
        plan = planned_jobs(snakemake(finished_run, "-n"))
        assert plan == {"train": 6, "experiment_config": 2, "experiment_report": 2, "seeds_report": 1, "showcase": 1, "summary": 1, "all": 1}, (
            plan
        )
        snakemake(finished_run, "--cores", "2")
    finally:
        write_config(finished_run, TINY)
    results = finished_run / "results"
    runs = [MetricsTable.read(results / f"tiny_seed{seed}/metrics.csv").rows().pooled for seed in (0, 1)]
    table = MetricsTable.read(results / "tiny/metrics.csv")
    assert table.rows().loc["acc", ["seed_0", "seed_1"]].tolist() == [runs[0].acc, runs[1].acc]
    assert table.value("flow_epe") == pytest.approx((runs[0].flow_epe + runs[1].flow_epe) / 2)
    assert runs[0].flow_epe != runs[1].flow_epe  # the seeds trained differently
    seeds = {int(s) for s in pd.read_csv(results / "tiny/per_fold.csv").seed}
    assert seeds == {0, 1}
    rows = [row for row in markdown_rows((results / "summary.md").read_text()) if row[0].startswith("tiny")]
    assert " ± " in rows[0][1] and rows[0][-2] == "3 × 2 seeds" and rows[0][-1].startswith("preset paper; "), rows
    assert rows[1][0] == "tiny: best test step (LEAKY)" and " ± " in rows[1][1], rows
    assert rows[2][0] == "tiny: the authors' protocol (NOT COMPARABLE)" and " ± " in rows[2][1], rows
    assert table.value("acc", selection="best_test") >= table.value("acc") and "acc" in table.rows("authors").index
    text = (results / "tiny_seed1/metrics.md").read_text()
    assert "## Best test step (LEAKY" in text and "## The authors' protocol (NOT COMPARABLE" in text
    assert (results / "tiny_seed0/examples/examples.json").is_file()


def test_tables_14_15_flow_and_landmark_heads_without_the_mer_head_under_loso(finished_run):
    """A "w/o MER" experiment (Tables 14-15) trains and is reported end to end on the same
    stores: flow and landmark errors with their baselines and the exact truth, no classification."""
    config = yaml.safe_load(yaml.safe_dump(TINY))
    no_mer = yaml.safe_load(yaml.safe_dump(config["experiments"]["tiny"]))
    no_mer["model"]["mer_head"] = False
    no_mer["paper"] = ["table14_no_mer", "table15_no_mer"]
    config["experiments"]["tiny_no_mer"] = no_mer
    config["run"] = ["tiny_no_mer"]
    write_config(finished_run, config)
    try:
        plan = planned_jobs(snakemake(finished_run, "-n"))
        assert plan == {"train": 3, "experiment_config": 1, "experiment_report": 1, "summary": 1, "all": 1}, plan  # stores reused
        snakemake(finished_run, "--cores", "2")
    finally:
        write_config(finished_run, TINY)
    results = finished_run / "results" / "tiny_no_mer"
    table = MetricsTable.read(results / "metrics.csv").rows().pooled
    assert "acc" not in table and {"flow_epe", "flow_epe_zero", "landmark_nme", "landmark_failure", "flow_epe_exact"} <= set(table.index)
    assert "No classification: the model has no MER head" in (results / "metrics.md").read_text()
    summary = (finished_run / "results" / "summary.md").read_text()
    assert "| *paper* (Table 14: MOL w/o MER) (our run: NOT the paper's settings" in summary
    assert "| *paper* (Table 15: MOL w/o MER)" in summary


def test_flow_change_recomputes_flow_only(finished_run):
    """Runs last: it changes the finished run for good."""
    stores = sorted((finished_run / "cache/synthetic").glob("*/*/*.zarr"))
    frames_written = {p: (p / "frames" / "zarr.json").stat().st_mtime_ns for p in stores}
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["preprocess"] = {"flow": {"nscales": 3, "warps": 3}}
    write_config(finished_run, config)
    plan = planned_jobs(snakemake(finished_run, "-n"))
    assert plan.get("preprocess") == 3 and "synthetic_dataset" not in plan and "videos" not in plan, plan
    snakemake(finished_run, "--cores", "2")
    assert sorted((finished_run / "cache/synthetic").glob("*/*/*.zarr")) == stores
    assert {p: (p / "frames" / "zarr.json").stat().st_mtime_ns for p in stores} == frames_written
    from mol_core.clips.sampling import Sampling
    from mol_core.store.keys import PreprocessSettings, flow_name

    new_flow = flow_name(Sampling(4), PreprocessSettings(flow={"nscales": 3, "warps": 3}))
    logs = list((finished_run / "results/logs/synthetic/preprocess").glob(f"*/{new_flow}/*.log"))  # one job per subject
    assert len(logs) == 3 and sum(log.read_text().count("store reused from the cache") for log in logs) == 15
    flows = [{f.name for f in (p / "flow").iterdir() if f.is_dir()} for p in stores]
    assert all(new_flow in names and len(names) == 3 for names in flows)  # t=4 before, t=4 now, onset-apex


def test_a_frame_replaced_in_place_retrains_every_fold_of_its_dataset(finished_run):
    """Issue 27: another image under a frame's name rebuilds that video's store, and the
    clip index carries the stores' content digests, so every fold trained on or tested with
    it trains again (the index's other rows keep their digests; an edited onset:
    tests/test_faults.py). Runs last: it changes the shared run."""
    import shutil

    w = finished_run
    videos = pd.read_parquet(w / "results/synthetic/videos.parquet")
    row = videos.iloc[0]
    before = pd.read_parquet(w / "results/synthetic/clips.parquet")
    models = {f: (w / "results/tiny/folds" / f / "model.pt").stat().st_mtime_ns for f in ("sub01", "sub02", "sub03")}
    frame, other = (
        (w / row.frames[2], w / row.frames[3]) if not Path(row.frames[2]).is_absolute() else (Path(row.frames[2]), Path(row.frames[3]))
    )
    shutil.copy(other, frame)
    snakemake(w, "--cores", "2")
    after = pd.read_parquet(w / "results/synthetic/clips.parquet")
    mine = (after.subject == row.subject) & (after.video == row.video)
    assert all((w / "results/tiny/folds" / f / "model.pt").stat().st_mtime_ns > t for f, t in models.items())
    assert (after.content[mine] != before.content[mine.values]).all() and (after.content[~mine] == before.content[~mine.values]).all()
    assert "Nothing to be done" in snakemake(w, "-n")
