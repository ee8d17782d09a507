"""Does joint training beat MER alone? (benchmark, not a test; issue 14 item 6)

Trains MOL, MOL w/o OFE, w/o FLD and w/o OFE&FLD with several seeds on every LOSO fold of
one or more clip indexes (the demo's synthetic set, and a harder preset made by
``tests/benchmarks/synthetic_hard.yaml``) and prints, per preset and variant, Acc and UF1
mean +- std over seeds, the flow EPE and landmark NME beside their baselines, and a paired
exact McNemar test between MOL and w/o OFE&FLD over the same (video, seed) pairs.

    # the harder preset, in its own folder (see tests/benchmarks/synthetic_hard.yaml):
    mkdir -p runs/hard && ln -s $PWD/resources runs/hard/resources
    snakemake results/synthetic/clips.parquet --cores 8 --directory runs/hard \\
        --configfile config.yaml tests/benchmarks/synthetic_hard.yaml
    python tests/benchmarks/joint_learning.py --preset demo=results/synthetic/clips.parquet \\
        --preset hard=runs/hard/results/synthetic/clips.parquet --seeds 0 1 2 --jobs 8

``--init results/synthetic_pretrain/folds/all/model.pt`` starts every variant of every fold
from the demo's pre-training (as the demo's folds do; a variant keeps the weights it has);
``--folds N`` runs only the first N folds of each preset.

Relative store paths in a clip index are read from the folder that holds its ``results/``.
The last line reads ``<preset>: MOL <acc> vs w/o OFE&FLD <acc>, McNemar p <p>`` per preset.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learning_levers import REPO, run_one

VARIANTS = {
    "MOL": {},
    "w/o OFE": {"flow_head": False},
    "w/o FLD": {"landmark_head": False},
    "w/o OFE&FLD": {"flow_head": False, "landmark_head": False},
}


def mcnemar_exact(a_right: pd.Series, b_right: pd.Series) -> tuple[int, int, float]:
    """(right only for a, right only for b, two-sided exact p) over paired outcomes."""
    only_a, only_b = int((a_right & ~b_right).sum()), int((~a_right & b_right).sum())
    n, k = only_a + only_b, min(only_a, only_b)
    p = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    return only_a, only_b, p


def uf1(group: pd.DataFrame, classes: int) -> float:
    from mol_core.metrics import classification_metrics

    return classification_metrics(group.label, group.pred, classes)["uf1"]


def run_in(folder: str, job: dict) -> pd.DataFrame:
    os.chdir(folder)
    return run_one(job)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", required=True, help="NAME=CLIPS_PARQUET")
    parser.add_argument("--config", default=str(REPO / "config.yaml"))
    parser.add_argument("--experiment", default="synthetic_loso")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folds", type=int, default=None, help="only the first N folds of each preset (a smaller budget)")
    parser.add_argument("--init", default=None, help="every variant of every fold starts from this checkpoint (e.g. the demo's pre-training)")
    args = parser.parse_args()
    from mol_core.datasets import class_names

    config = yaml.safe_load(Path(args.config).read_text())
    base = config["experiments"][args.experiment]
    dataset = config["datasets"][base["dataset"]]
    names = class_names(dataset["loader"], dataset.get("classes"))
    jobs, folders = [], []
    for preset in args.preset:
        name, clips_path = preset.split("=", 1)
        clips_path = Path(clips_path).resolve()
        folder = str(clips_path.parents[2])  # {folder}/results/{dataset}/clips.parquet
        for fold in sorted(pd.read_parquet(clips_path).subject.unique())[: args.folds]:
            for variant, model in VARIANTS.items():
                for seed in args.seeds:
                    folders.append(folder)
                    jobs.append(
                        {
                            "recipe": f"{name}|{variant}",
                            "seed": seed,
                            "fold": fold,
                            "clips": str(clips_path),
                            "pack": None,
                            "threads": args.threads,
                            "class_names": names,
                            "model": {**base.get("model", {}), **model},
                            "train": {**base.get("train", {}), "seed": seed},
                            "init": str(Path(args.init).resolve()) if args.init else None,
                        }
                    )
    print(f"{len(jobs)} runs, {args.jobs} at a time", flush=True)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(run_in, folders, jobs))
    else:
        results = [run_in(folder, job) for folder, job in zip(folders, jobs, strict=True)]
    videos = pd.concat(results, ignore_index=True)
    videos[["preset", "variant"]] = videos.recipe.str.split("|", expand=True)
    videos["right"] = videos.pred == videos.label
    rows = []
    for (preset, variant, seed), group in videos.groupby(["preset", "variant", "seed"], sort=False):
        rows.append(
            {
                "preset": preset,
                "variant": variant,
                "seed": seed,
                "acc": group.right.mean(),
                "uf1": uf1(group, len(names)),
                "flow_epe": group.flow_epe.mean(),
                "flow_epe_zero": group.flow_epe_zero.mean(),
                "landmark_nme": group.landmark_nme.mean(),
                "landmark_nme_mean_shape": group.landmark_nme_mean_shape.mean(),
            }
        )
    per_seed = pd.DataFrame(rows)
    summary = per_seed.groupby(["preset", "variant"], sort=False).agg(["mean", "std"])
    with pd.option_context("display.width", 220, "display.max_columns", 30, "display.precision", 4):
        print(summary.drop(columns="seed", level=0).to_string())
    last = []
    for preset, group in videos.groupby("preset", sort=False):
        key = ["seed", "fold", "subject", "video"]
        mol = group[group.variant == "MOL"].set_index(key).right
        alone = group[group.variant == "w/o OFE&FLD"].set_index(key).right.reindex(mol.index)
        only_mol, only_alone, p = mcnemar_exact(mol, alone)
        print(f"{preset}: MOL right alone on {only_mol}, w/o OFE&FLD right alone on {only_alone} (video x seed pairs)")
        last.append(f"{preset}: MOL {mol.mean():.3f} vs w/o OFE&FLD {alone.mean():.3f}, McNemar p {p:.3f}")
    print("; ".join(last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
