"""Does joint learning help MER? The like-for-like experiment of issue 29 (a benchmark,
never a test). Its design is fixed here, before it is run:

- **Data**: one or more clip indexes (``--preset NAME=CLIPS``): the hard synthetic preset
  (``tests/benchmarks/synthetic_hard.yaml``; the powered design wants at least 24 subjects,
  240+ test videos) and, as a positive control, a preset where sharing must help. Subjects
  are split into ``--groups`` grouped folds (subjects in sorted order, dealt round-robin):
  each fold tests one group and trains on the others, its validation subjects drawn from
  the training subjects, never from the test group.
- **Arms**: from scratch (the default; ``--init PATH`` starts every variant from one
  checkpoint instead, which confounds the comparison: issue 29).
- **Variants** (``--variants``): ``mer_only`` (no flow, no landmark head), ``wo_ofe``,
  ``wo_fld``, and ``mol_<balance>`` for the loss balances ``paper``, ``authors``,
  ``uncertainty``, ``gradnorm``, ``share`` (the full model, its terms so weighted).
- **Learning curve**: each of ``--steps`` (e.g. 100 300 1000) is a run of its own.
- **Seeds**: ``--seeds`` (at least 3; 5 on a GPU).
- **Analysis**, per preset and step count: each variant's accuracy (mean over seeds of the
  pooled per-video accuracy) and, against ``mer_only``, the paired difference of per-video
  correctness averaged over the seeds, with a 95% CI from a subject-cluster bootstrap
  (``--bootstrap`` draws of the subjects with replacement; a video is never counted apart
  from its subject); and, from each run's last ``log.csv`` row, the auxiliary terms' gradient
  norms on the shared trunk relative to the CE's and their cosines to it; and a linear probe
  of each trained trunk (``mol_core.train.probe``: fitted on the fold's training subjects,
  scored on its test group), averaged over groups and seeds.

Every run's predictions and log go under ``--out`` (``runs.csv`` lists them; rerunning
skips the runs already there), and ``--out``/``summary.md`` gets the table.

    python tests/benchmarks/joint_learning_design.py --preset hard=runs/hard/results/synthetic/clips.parquet \\
        --groups 4 --variants mer_only mol_paper mol_uncertainty --steps 200 --seeds 0 1 2 --jobs 2 --out runs/joint

Relative store paths in a clip index are read from the folder that holds its ``results/``.
The model and the other training settings are config.yaml's demo experiment's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

HEADLESS = {"flow_head": False, "landmark_head": False}
BALANCES = ("paper", "authors", "uncertainty", "gradnorm", "share")
VARIANTS: dict[str, tuple[dict, dict]] = {
    "mer_only": (HEADLESS, {}),
    "wo_ofe": ({"flow_head": False}, {}),
    "wo_fld": ({"landmark_head": False}, {}),
    **{f"mol_{b}": ({}, {"loss_balance": b}) for b in BALANCES},
}


def grouped_folds(subjects, groups: int) -> list[list[str]]:
    """The subjects in sorted order dealt round-robin into ``groups`` test groups."""
    ordered = sorted(subjects)
    return [ordered[g::groups] for g in range(groups)]


def demo_experiment() -> tuple[dict, dict, list[str]]:
    """(model options, train settings, class names) of config.yaml's demo experiment, resolved."""
    from mol_core.config.effective import resolved_config
    from mol_core.workflow_plan import WorkflowPlan

    config = resolved_config([])
    plan = WorkflowPlan(config)
    experiment = config["experiments"]["synthetic_loso"]
    return dict(experiment["model"]), dict(experiment["train"]), plan.experiment_class_names("synthetic_loso")


def run(job: dict) -> dict:
    """Train one (preset, variant, steps, seed, group) and keep its predictions and log."""
    import torch

    from mol_core.model import Checkpoint
    from mol_core.train.loop import TrainSettings, train_fold
    from mol_core.train.probe import probe

    os.chdir(job["folder"])
    torch.set_num_threads(job["threads"])
    out = Path(job["out"])
    clips = pd.read_parquet(job["clips"])
    test = clips.subject.isin(job["group"])
    started = time.perf_counter()
    settings = TrainSettings(**job["train"])
    predictions = train_fold(
        clips[~test],
        f"group{job['group_index']}",
        out,
        job["class_names"],
        settings,
        job["model"],
        log=lambda m: None,
        test_clips=clips[test],
        init=job["init"],
    )
    seconds = time.perf_counter() - started
    checkpoint = Checkpoint.load(out / "model.pt")
    trained_on = clips[clips.subject.isin(checkpoint.subjects["train"])]
    probed = probe(checkpoint.build_model(), trained_on, clips[test], len(job["class_names"]))
    accuracy = (predictions.pred == predictions.label).mean()
    print(f"  {job['name']}: {seconds:.0f} s, acc {accuracy:.2f}, trunk probe {probed.accuracy:.2f}", flush=True)
    record = {k: job[k] for k in ("name", "preset", "variant", "steps", "seed", "group_index")}
    return {**record, "out": str(out), "seconds": seconds, "probe_acc": probed.accuracy}


def cluster_bootstrap(difference: pd.Series, subjects: pd.Series, draws: int, seed: int = 0) -> tuple[float, float]:
    """95% CI of the mean of per-video ``difference`` over subjects resampled with replacement."""
    rng = np.random.default_rng(seed)
    by_subject = difference.groupby(subjects.to_numpy())
    sums, counts = by_subject.sum().to_numpy(), by_subject.size().to_numpy()
    picks = rng.integers(0, len(sums), size=(draws, len(sums)))
    means = sums[picks].sum(1) / counts[picks].sum(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def analyse(runs: pd.DataFrame, draws: int) -> pd.DataFrame:
    """One row per (preset, steps, variant): accuracy over seeds, the paired difference from
    mer_only with its subject-cluster CI, and the last logged trunk diagnostics."""
    videos = []
    for r in runs.itertuples():
        p = pd.read_parquet(Path(r.out) / "predictions.parquet")
        p = p[p.selection == "validation"]
        videos.append(p.assign(preset=r.preset, variant=r.variant, steps=r.steps, seed=r.seed, right=(p.pred == p.label).astype(float)))
    table = pd.concat(videos, ignore_index=True)
    logs = {r.out: pd.read_csv(Path(r.out) / "log.csv").iloc[-1] for r in runs.itertuples()}
    rows = []
    for (preset, steps), group in table.groupby(["preset", "steps"], sort=False):
        per_video = group.groupby(["variant", "subject", "video"]).right.mean()  # correctness averaged over seeds
        base = per_video.get("mer_only")
        for variant in dict.fromkeys(group.variant):
            seeds = group[group.variant == variant].groupby("seed").right.mean()
            row = {"preset": preset, "steps": steps, "variant": variant, "acc": seeds.mean(), "acc_sd": seeds.std(), "seeds": len(seeds)}
            if base is not None and variant != "mer_only":
                mine = per_video[variant]
                paired = (mine - base.reindex(mine.index)).dropna()
                low, high = cluster_bootstrap(paired, paired.index.get_level_values("subject").to_series(), draws)
                row.update(diff=paired.mean(), ci_low=low, ci_high=high, videos=len(paired))
            chosen = runs[(runs.preset == preset) & (runs.steps == steps) & (runs.variant == variant)]
            if "probe_acc" in chosen and chosen.probe_acc.notna().any():  # a linear probe of the frozen trunk
                row["probe_acc"] = chosen.probe_acc.mean()
            last = pd.DataFrame([logs[o] for o in chosen.out])
            for term in ("flow", "landmark"):
                if f"grad_{term}" in last and "grad_ce" in last:
                    row[f"{term}_grad_vs_ce"] = (last[f"grad_{term}"] / last["grad_ce"]).mean()
                    row[f"cos_ce_{term}"] = last[f"cos_ce_{term}"].mean()
            rows.append(row)
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", required=True, help="NAME=CLIPS_PARQUET")
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--variants", nargs="+", default=["mer_only", "wo_ofe", "wo_fld", "mol_paper", "mol_authors", "mol_uncertainty"])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--init", default=None, help="start every run from this checkpoint (confounded; default: from scratch)")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    model, train, names = demo_experiment()
    out = Path(args.out).resolve()
    jobs = []
    for preset in args.preset:
        name, clips_path = preset.split("=", 1)
        clips_path = Path(clips_path).resolve()
        subjects = pd.read_parquet(clips_path, columns=["subject"]).subject.unique()
        for g, group in enumerate(grouped_folds(subjects, args.groups)):
            for variant in args.variants:
                options, settings = VARIANTS[variant]
                for steps in args.steps:
                    for seed in args.seeds:
                        run_name = f"{name}/{variant}/steps{steps}/seed{seed}/group{g}"
                        evaluate = max(steps // 4, 1)
                        job_train = {**train, **settings, "steps": steps, "seed": seed, "eval_every": evaluate, "checkpoint_every": steps}
                        jobs.append(
                            {
                                "name": run_name,
                                "preset": name,
                                "variant": variant,
                                "steps": steps,
                                "seed": seed,
                                "group_index": g,
                                "group": list(group),
                                "clips": str(clips_path),
                                "folder": str(clips_path.parents[2]),
                                "out": str(out / run_name),
                                "threads": args.threads,
                                "class_names": names,
                                "model": {**model, **options},
                                "train": job_train,
                                "init": str(Path(args.init).resolve()) if args.init else None,
                            }
                        )
    done_file = out / "runs.csv"
    done = pd.read_csv(done_file) if done_file.exists() else pd.DataFrame(columns=["name"])
    todo = [j for j in jobs if j["name"] not in set(done.name)]
    print(f"{len(jobs)} runs, {len(jobs) - len(todo)} already done, {args.jobs} at a time", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max(args.jobs, 1), mp_context=get_context("spawn")) as pool:
        for record in pool.map(run, todo):
            done = pd.concat([done, pd.DataFrame([record])], ignore_index=True)
            done.to_csv(done_file, index=False)
    wanted = done[done.name.isin({j["name"] for j in jobs})]
    summary = analyse(wanted, args.bootstrap)
    text = summary.to_markdown(index=False, floatfmt=".3f")
    (out / "summary.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
