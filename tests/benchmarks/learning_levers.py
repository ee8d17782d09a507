"""What each training lever does to the three heads (benchmark, not a test).

Trains named recipes (model and training options over the demo's experiment in
config.yaml) on a few LOSO folds of a clip index and prints, per recipe, the pooled test
accuracy, the flow EPE against TV-L1 beside predicting no motion, and the landmark NME
against dlib beside the training mean shape (eye-centre normaliser), with their ratios
(below 1: the head learned something). Runs on whatever device torch picks.

    python tests/benchmarks/learning_levers.py --clips results/synthetic/clips.parquet \\
        --recipes demo,both_skips --folds sub01 sub02 --jobs 2

The base is config.yaml's demo experiment (its levers included: ``paper_flow_head`` undoes
the flow head's); ``--init results/synthetic_pretrain/folds/all/model.pt`` starts every fold
from the demo's pre-training, as the workflow does.

``--make-pack FILE`` writes the stores a clip index uses into one compressed file (flow
quantised to 1/64 px, +-2 px: at most 0.008 px off) and ``--pack FILE`` trains from it, for
a machine without the preprocessing stack (no zarr, OpenCV or dlib needed there).
The last line reads ``best <recipe>: flow <ratio>x, landmarks <ratio>x, acc <acc>``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

# name -> (model options, train settings) over the base experiment.
PAPER_FLOW_HEAD = {"flow_skips": "first", "flow_target_scale": 1.0, "flow_resolution": "full", "flow_joint_stem": False}
RECIPES = {
    "demo": ({}, {}),
    "paper_flow_head": (PAPER_FLOW_HEAD, {}),  # the demo before issue 14's flow levers
    "both_skips": ({"flow_skips": "both"}, {}),
    "epe_loss": ({}, {"flow_loss": "epe"}),
    "target_x10": ({"flow_target_scale": 10.0}, {}),
    "both_epe": ({"flow_skips": "both"}, {"flow_loss": "epe"}),
    "both_epe_x10": ({"flow_skips": "both", "flow_target_scale": 10.0}, {"flow_loss": "epe"}),
    "both_x10": ({"flow_skips": "both", "flow_target_scale": 10.0}, {}),
    "both_x10_cosine": ({"flow_skips": "both", "flow_target_scale": 10.0}, {"lr_schedule": "cosine", "warmup_steps": 10}),
    "both_x10_lf1": ({"flow_skips": "both", "flow_target_scale": 10.0}, {"lambda_flow": 1.0}),
    "authors_loss": ({}, {"loss_balance": "authors"}),
    "both_x10_lm2": ({"flow_skips": "both", "flow_target_scale": 10.0, "landmark_offset_scale": 2.0}, {}),
    "both_x10_lm2_epe": ({"flow_skips": "both", "flow_target_scale": 10.0, "landmark_offset_scale": 2.0}, {"flow_loss": "epe"}),
    "paper_concat": ({"fusion": "concat"}, {}),
    "jitter0": ({}, {"crop_jitter": 0}),
    "jitter0_last": ({}, {"crop_jitter": 0, "select_on": "last"}),
    "jitter0_both_x10_last": ({"flow_skips": "both", "flow_target_scale": 10.0}, {"crop_jitter": 0, "select_on": "last"}),
    "both_x10_quarter": ({"flow_skips": "both", "flow_target_scale": 10.0, "flow_resolution": "quarter"}, {}),
    "both_x10_quarter_ms": ({"flow_skips": "both", "flow_target_scale": 10.0, "flow_resolution": "quarter"}, {"flow_multiscale": True}),
    "joint_stem": ({"flow_skips": "both", "flow_target_scale": 10.0, "flow_resolution": "quarter", "flow_joint_stem": True}, {}),
    "joint_stem_ms": (
        {"flow_skips": "both", "flow_target_scale": 10.0, "flow_resolution": "quarter", "flow_joint_stem": True},
        {"flow_multiscale": True},
    ),
}
FLOW_SCALE = 64.0  # pack quantisation: 1/64 px


class PackedArray:
    """An in-memory array with zarr's ``[:]``, ``shape`` and ``attrs``."""

    def __init__(self, data: np.ndarray, attrs: dict | None = None):
        self.data, self.attrs, self.shape = data, attrs or {}, data.shape

    def __getitem__(self, index):
        return self.data[index]


class PackedStore:
    """What :func:`mol_core.store.open_store` returns, read from a pack."""

    def __init__(self, pack: dict, path: str):
        self.attrs = json.loads(str(pack[f"{path}|attrs"]))
        self.pack, self.path = pack, path

    def __getitem__(self, name: str):
        data = self.pack[f"{self.path}|{name}"]
        if name.startswith("flow/"):
            return PackedArray(data.astype(np.float16) / np.float16(FLOW_SCALE), json.loads(str(self.pack[f"{self.path}|{name}|attrs"])))
        return PackedArray(data)


def make_pack(clips: pd.DataFrame, out: Path) -> None:
    from mol_core.store import open_store

    arrays = {}
    for (path, flow), _ in clips.groupby(["store", "flow"]):
        store = open_store(path)
        arrays[f"{path}|attrs"] = json.dumps(dict(store.attrs), default=str)
        arrays[f"{path}|frames"] = store["frames"][:]
        arrays[f"{path}|landmarks"] = store["landmarks"][:]
        values = np.clip(np.round(store[f"flow/{flow}"][:].astype(np.float32) * FLOW_SCALE), -127, 127)
        arrays[f"{path}|flow/{flow}"] = values.astype(np.int8)
        arrays[f"{path}|flow/{flow}|attrs"] = json.dumps(dict(store[f"flow/{flow}"].attrs), default=str)
    np.savez_compressed(out, **arrays)
    print(f"packed {clips.store.nunique()} stores into {out} ({out.stat().st_size / 1e6:.1f} MB)")


def use_pack(path: str) -> None:
    """Point every reader of stores at the pack."""
    import mol_core.clips.data
    import mol_core.train.evaluate
    import mol_core.train.loop

    pack = dict(np.load(path, allow_pickle=False))

    def opener(store_path):
        return PackedStore(pack, str(store_path))

    for module in (mol_core.clips.data, mol_core.train.loop, mol_core.train.evaluate):
        module.open_store = opener


def run_one(job: dict) -> pd.DataFrame:
    import torch

    from mol_core.train.loop import TrainSettings, train_fold

    torch.set_num_threads(job["threads"])
    if job["pack"]:
        use_pack(job["pack"])
    clips = pd.read_parquet(job["clips"])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        predictions = train_fold(
            clips,
            job["fold"],
            out,
            job["class_names"],
            TrainSettings(**job["train"]),
            job["model"],
            log=lambda message: None,
            init=job.get("init"),
        )
    seconds = time.perf_counter() - started
    print(
        f"  {job['recipe']} seed {job['seed']} fold {job['fold']}: {seconds:.0f} s, "
        f"acc {(predictions.pred == predictions.label).mean():.2f}, "
        f"flow {predictions.flow_epe.mean() / predictions.flow_epe_zero.mean():.3f}x, "
        f"landmarks {predictions.landmark_nme.mean() / predictions.landmark_nme_mean_shape.mean():.3f}x",
        flush=True,
    )
    return predictions.assign(recipe=job["recipe"], seed=job["seed"], seconds=seconds)


def summarise(predictions: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (recipe, seed), group in predictions.groupby(["recipe", "seed"], sort=False):
        rows.append(
            {
                "recipe": recipe,
                "seed": seed,
                "acc": (group.pred == group.label).mean(),
                "flow_epe": group.flow_epe.mean(),
                "flow_epe_zero": group.flow_epe_zero.mean(),
                "landmark_nme": group.landmark_nme.mean(),
                "landmark_nme_mean_shape": group.landmark_nme_mean_shape.mean(),
                "seconds_per_fold": group.groupby("fold").seconds.first().mean(),
            }
        )
    table = pd.DataFrame(rows)
    table["flow_ratio"] = table.flow_epe / table.flow_epe_zero
    table["landmark_ratio"] = table.landmark_nme / table.landmark_nme_mean_shape
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default="results/synthetic/clips.parquet")
    parser.add_argument("--config", default=str(REPO / "config.yaml"))
    parser.add_argument("--experiment", default="synthetic_loso")
    parser.add_argument("--recipes", default="demo,both_skips,both_x10")
    parser.add_argument("--folds", nargs="+", default=["sub01", "sub02", "sub03", "sub04"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=None, help="override the base experiment's steps")
    parser.add_argument("--set", action="append", default=[], help="train.KEY=VALUE or model.KEY=VALUE over every recipe")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pack", default=None)
    parser.add_argument("--init", default=None, help="start every fold from this checkpoint (a pre-training's model.pt)")
    parser.add_argument("--make-pack", default=None)
    parser.add_argument("--out", default=None, help="CSV of the per-recipe table")
    args = parser.parse_args()

    clips = pd.read_parquet(args.clips)
    if args.make_pack:
        make_pack(clips, Path(args.make_pack))
        return 0
    config = yaml.safe_load(Path(args.config).read_text())
    base = config["experiments"][args.experiment]
    from mol_core.datasets import class_names

    dataset = config["datasets"][base["dataset"]]
    names = class_names(dataset["loader"], dataset.get("classes"))
    overrides = {"model": {}, "train": {}}
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        overrides[section][name] = yaml.safe_load(value)
    if args.steps:
        overrides["train"]["steps"] = args.steps
    jobs = []
    for recipe in args.recipes.split(","):
        model, train = RECIPES[recipe]
        for seed in args.seeds:
            for fold in args.folds:
                jobs.append(
                    {
                        "recipe": recipe,
                        "seed": seed,
                        "fold": fold,
                        "clips": args.clips,
                        "pack": args.pack,
                        "threads": args.threads,
                        "init": args.init,
                        "class_names": names,
                        "model": {**base.get("model", {}), **model, **overrides["model"]},
                        "train": {**base.get("train", {}), **train, **overrides["train"], "seed": seed},
                    }
                )
    print(f"{len(jobs)} runs ({args.recipes}; folds {' '.join(args.folds)}; seeds {args.seeds}), {args.jobs} at a time", flush=True)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(run_one, jobs))
    else:
        results = [run_one(job) for job in jobs]
    table = summarise(pd.concat(results, ignore_index=True))
    if args.out:
        table.to_csv(args.out, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
        print(table.to_string(index=False))
    mean = table.groupby("recipe", sort=False)[["acc", "flow_ratio", "landmark_ratio"]].mean()
    best = (mean.flow_ratio + mean.landmark_ratio).idxmin()
    print(f"best {best}: flow {mean.flow_ratio[best]:.2f}x, landmarks {mean.landmark_ratio[best]:.2f}x, acc {mean.acc[best]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
