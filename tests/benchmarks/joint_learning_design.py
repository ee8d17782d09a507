"""Does joint learning help MER? The like-for-like experiment of issue 29 (a benchmark,
never a test). Its design is fixed here, before it is run:

- **Data**: one or more clip indexes (``--preset NAME=CLIPS``): the hard synthetic preset
  (``tests/benchmarks/synthetic_hard.yaml``; the powered design wants at least 24 subjects,
  240+ test videos) and, as a positive control, a preset where sharing must help. Subjects
  are split into ``--groups`` grouped folds (subjects in sorted order, dealt round-robin):
  each fold tests one group and trains on the others, its validation subjects drawn from
  the training subjects, never from the test group.
- **Arms** (``--arms``): ``scratch`` (from random weights) and ``pretrained``: from a
  pre-training matched per variant and seed (the variant's own heads and loss, CE included,
  ``--pretrain-steps`` steps on every labelled video of ``--pretrain CLIPS``, identities that
  are in no test group), so that MER alone starts from a trunk shaped by the CE only and MOL
  from one shaped by all three losses. (``--init PATH`` starts every variant from one
  checkpoint instead, which confounds the comparison: issue 29.)
- **Variants** (``--variants``): ``mer_only`` (no flow, no landmark head), ``wo_ofe``,
  ``wo_fld``, and ``mol_<balance>`` for the loss balances ``paper``, ``authors``,
  ``uncertainty``, ``gradnorm``, ``share`` (the full model, its terms so weighted); a
  suffix ``+<targets>`` (``residual``, ``exact``, ``expression``: ``train.targets``) trains
  the auxiliary heads on those targets instead of the teachers'.
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
import itertools
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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


def variant_settings(variant: str) -> tuple[dict, dict]:
    """(model options, train settings) of a variant name such as ``mol_paper+expression``."""
    from mol_core.clips.targets import TARGETS

    base, _, targets = variant.partition("+")
    if base not in VARIANTS or (targets and targets not in TARGETS):
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}, each with an optional +{'|+'.join(TARGETS)}")
    options, settings = VARIANTS[base]
    return options, {**settings, **({"targets": targets} if targets else {})}


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
    record = {k: job[k] for k in ("name", "preset", "arm", "variant", "steps", "seed", "group_index")}
    return {**record, "out": str(out), "seconds": seconds, "probe_acc": probed.accuracy}


def pretrain(job: dict) -> str:
    """The matched pre-training of one (variant, seed): every clip of the pre-training index,
    validation subjects drawn from it, no test; returns its checkpoint (kept: a rerun reuses it)."""
    import torch

    from mol_core.train.loop import TrainSettings, train_fold

    out = Path(job["out"])
    if (out / "model.pt").is_file() and (out / "predictions.parquet").is_file():
        return str(out / "model.pt")
    os.chdir(job["folder"])
    torch.set_num_threads(job["threads"])
    started = time.perf_counter()
    clips = pd.read_parquet(job["clips"])
    train_fold(clips, "pretrain", out, job["class_names"], TrainSettings(**job["train"]), job["model"], log=lambda m: None, pretrain=True)
    print(f"  {job['name']}: {time.perf_counter() - started:.0f} s", flush=True)
    return str(out / "model.pt")


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
        videos.append(
            p.assign(preset=r.preset, arm=r.arm, variant=r.variant, steps=r.steps, seed=r.seed, right=(p.pred == p.label).astype(float))
        )
    table = pd.concat(videos, ignore_index=True)
    logs = {r.out: pd.read_csv(Path(r.out) / "log.csv").iloc[-1] for r in runs.itertuples()}
    rows = []
    for (preset, arm, steps), group in table.groupby(["preset", "arm", "steps"], sort=False):
        per_video = group.groupby(["variant", "subject", "video"]).right.mean()  # correctness averaged over seeds
        base = per_video.get("mer_only")
        for variant in dict.fromkeys(group.variant):
            seeds = group[group.variant == variant].groupby("seed").right.mean()
            row = {
                "preset": preset,
                "arm": arm,
                "steps": steps,
                "variant": variant,
                "acc": seeds.mean(),
                "acc_sd": seeds.std(),
                "seeds": len(seeds),
            }
            if base is not None and variant != "mer_only":
                mine = per_video[variant]
                paired = (mine - base.reindex(mine.index)).dropna()
                low, high = cluster_bootstrap(paired, paired.index.get_level_values("subject").to_series(), draws)
                row.update(diff=paired.mean(), ci_low=low, ci_high=high, videos=len(paired))
            chosen = runs[(runs.preset == preset) & (runs.arm == arm) & (runs.steps == steps) & (runs.variant == variant)]
            if "probe_acc" in chosen and chosen.probe_acc.notna().any():  # a linear probe of the frozen trunk
                row["probe_acc"] = chosen.probe_acc.mean()
            last = pd.DataFrame([logs[o] for o in chosen.out])
            for term in ("flow", "landmark"):
                if f"grad_{term}" in last and "grad_ce" in last:
                    row[f"{term}_grad_vs_ce"] = (last[f"grad_{term}"] / last["grad_ce"]).mean()
                    row[f"cos_ce_{term}"] = last[f"cos_ce_{term}"].mean()
            rows.append(row)
    return pd.DataFrame(rows)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", required=True, help="NAME=CLIPS_PARQUET")
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--variants", nargs="+", default=["mer_only", "wo_ofe", "wo_fld", "mol_paper", "mol_authors", "mol_uncertainty"])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["scratch"], choices=["scratch", "pretrained"])
    parser.add_argument("--pretrain", help="the pre-training's clip index (labelled identities in no preset's test groups)")
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--init", default=None, help="start every run from this checkpoint (confounded; default: from scratch)")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--budget", type=float, default=None, help="seconds after which no run starts (the table keeps complete seeds)")
    parser.add_argument("--analyse-only", action="store_true", help="no training: the table of every run in --out/runs.csv")
    args = parser.parse_args()
    try:
        args.chosen = {v: variant_settings(v) for v in args.variants}
    except ValueError as error:
        parser.error(str(error))
    if "pretrained" in args.arms and not args.pretrain:
        parser.error("the pretrained arm needs --pretrain CLIPS")
    args.out = Path(args.out).resolve()
    return args


def matched_pretrainings(args, experiment: tuple[dict, dict, list[str]], pool) -> dict[tuple[str, int], str]:
    """Pre-train each (variant, seed) on every video of ``--pretrain``; its checkpoint by key."""
    model, train, names = experiment
    clips = Path(args.pretrain).resolve()
    jobs = []
    for variant, (options, settings) in args.chosen.items():
        for seed in args.seeds:
            steps = args.pretrain_steps
            jobs.append(
                {
                    "name": f"pretrain/{variant}/seed{seed}",
                    "key": (variant, seed),
                    "clips": str(clips),
                    "folder": str(clips.parents[2]),
                    "out": str(args.out / "pretrain" / variant / f"seed{seed}"),
                    "threads": args.threads,
                    "class_names": names,
                    "model": {**model, **options},
                    "train": {**train, **settings, "steps": steps, "seed": seed, "eval_every": steps, "checkpoint_every": steps},
                }
            )
    print(f"{len(jobs)} matched pre-trainings of {args.pretrain_steps} steps", flush=True)
    return {job["key"]: checkpoint for job, checkpoint in zip(jobs, pool.map(pretrain, jobs), strict=True)}


def fine_tunings(args, experiment: tuple[dict, dict, list[str]], pretrained: dict[tuple[str, int], str]) -> list[dict]:
    """Every (preset, arm, group, variant, steps, seed) run of the design."""
    model, train, names = experiment
    jobs = []
    for preset in args.preset:
        name, clips_path = preset.split("=", 1)
        clips_path = Path(clips_path).resolve()
        subjects = pd.read_parquet(clips_path, columns=["subject"]).subject.unique()
        for arm, (g, group), (variant, (options, settings)), steps, seed in itertools.product(
            args.arms, enumerate(grouped_folds(subjects, args.groups)), args.chosen.items(), args.steps, args.seeds
        ):
            run_name = f"{name}/{'' if arm == 'scratch' else arm + '/'}{variant}/steps{steps}/seed{seed}/group{g}"
            init = pretrained[variant, seed] if arm == "pretrained" else (str(Path(args.init).resolve()) if args.init else None)
            jobs.append(
                {
                    "name": run_name,
                    "preset": name,
                    "arm": arm,
                    "variant": variant,
                    "steps": steps,
                    "seed": seed,
                    "group_index": g,
                    "group": list(group),
                    "clips": str(clips_path),
                    "folder": str(clips_path.parents[2]),
                    "out": str(args.out / run_name),
                    "threads": args.threads,
                    "class_names": names,
                    "model": {**model, **options},
                    "train": {**train, **settings, "steps": steps, "seed": seed, "eval_every": max(steps // 4, 1), "checkpoint_every": steps},
                    "init": init,
                }
            )
    return jobs


def main() -> int:
    args = arguments()
    if args.analyse_only:
        return summarise(pd.read_csv(args.out / "runs.csv").fillna({"arm": "scratch"}), args)
    experiment = demo_experiment()
    args.out.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max(args.jobs, 1), mp_context=get_context("spawn")) as pool:
        pretrained = matched_pretrainings(args, experiment, pool) if "pretrained" in args.arms else {}
        jobs = fine_tunings(args, experiment, pretrained)
        done_file = args.out / "runs.csv"
        done = pd.read_csv(done_file) if done_file.exists() else pd.DataFrame(columns=["name"])
        if "arm" not in done:
            done["arm"] = "scratch"  # written before the arms existed
        todo = sorted((j for j in jobs if j["name"] not in set(done.name)), key=lambda j: args.seeds.index(j["seed"]))  # seed by seed
        print(f"{len(jobs)} runs, {len(jobs) - len(todo)} already done, {args.jobs} at a time", flush=True)
        for record in within_budget(pool, todo, args.budget, max(args.jobs, 1)):
            done = pd.concat([done, pd.DataFrame([record])], ignore_index=True)
            done.to_csv(done_file, index=False)
    return summarise(complete_seeds(done[done.name.isin({j["name"] for j in jobs})], jobs), args)


def within_budget(pool, jobs: list[dict], budget: float | None, width: int):
    """Each finished run's record; no run is started after ``budget`` seconds (None: all run),
    the runs under way finish."""
    deadline = None if budget is None else time.monotonic() + budget
    waiting, running = list(jobs), set()
    while waiting or running:
        while waiting and len(running) < width and (deadline is None or time.monotonic() < deadline):
            running.add(pool.submit(run, waiting.pop(0)))
        if not running:
            print(f"budget of {budget:g} s spent: {len(waiting)} runs not started (rerun to continue)", flush=True)
            return
        finished, running = wait(running, return_when=FIRST_COMPLETED)
        yield from (future.result() for future in finished)


def complete_seeds(runs: pd.DataFrame, jobs: list[dict]) -> pd.DataFrame:
    """``runs`` of the seeds whose every run of the design is done (a budget may stop a design
    part-way: the table then compares variants on the same seeds only)."""
    wanted = pd.DataFrame([{"name": j["name"], "seed": j["seed"]} for j in jobs])
    complete = [s for s, names in wanted.groupby("seed").name if set(names) <= set(runs.name)]
    if len(complete) < wanted.seed.nunique():
        print(f"seeds with every run done: {complete}; the table uses only those", flush=True)
    return runs[runs.seed.isin(complete)]


def summarise(runs: pd.DataFrame, args) -> int:
    """Write and print the table of ``runs`` (:func:`analyse`)."""
    if runs.empty:
        print("no complete seed yet: no table")
        return 0
    text = analyse(runs, args.bootstrap).to_markdown(index=False, floatfmt=".3f")
    (args.out / "summary.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
