"""TV-L1 settings: error against the exact synthetic flow and time per pair (not run by pytest).

    python tests/benchmarks/tvl1_settings.py results/cache/synthetic [--stores 12]

Reads the aligned frames of the first ``--stores`` synthetic stores under the folder (a
``make demo`` cache), takes 3 pairs 4 frames apart in each, and prints per TV-L1 setting the
mean end-point error against the generator's exact flow in the 128-pixel centre crop (px),
the no-motion error for scale, and the seconds per pair on one thread, all measured in this
run. The demo's config.yaml takes the fastest setting whose error is not above 2 scales / 2
warps at OpenCV's epsilon (0.01).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from mol_core.clips.augment import centre_offset
from mol_core.preprocess.flow import tvl1_flow
from mol_core.store.zarr_store import open_store
from mol_core.synthetic.layout import ground_truth_file
from mol_core.train.evaluate import exact_targets
from mol_core.util.crop import CROP

SETTINGS = {
    "5/5 (OpenCV)": {},
    "2/2": {"nscales": 2, "warps": 2},
    "2/2 eps 0.02": {"nscales": 2, "warps": 2, "epsilon": 0.02},
    "2/3 eps 0.03": {"nscales": 2, "warps": 3, "epsilon": 0.03},
    "2/4 eps 0.03": {"nscales": 2, "warps": 4, "epsilon": 0.03},
    "2/4 eps 0.04": {"nscales": 2, "warps": 4, "epsilon": 0.04},
    "2/2 eps 0.05": {"nscales": 2, "warps": 2, "epsilon": 0.05},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache", help="a folder of synthetic stores (searched for *.zarr)")
    parser.add_argument("--stores", type=int, default=12)
    parser.add_argument("--dataset", default="data/synthetic", help="the synthetic dataset the stores were made from (its ground_truth/)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    stores = sorted(str(p) for p in Path(args.cache).rglob("EP0[1-3].zarr"))[: args.stores]
    if not stores:
        raise SystemExit(f"no synthetic stores (EP01-EP03.zarr) under {args.cache}")
    errors: dict[str, list[float]] = {name: [] for name in SETTINGS}
    seconds = dict.fromkeys(SETTINGS, 0.0)
    zero = []
    for path in stores:
        frames = open_store(path)["frames"][:]
        index = [0, 4, 8, 12]
        source = open_store(path).attrs["source"]  # which video the store holds, to find its truth file
        truth_file = ground_truth_file(args.dataset, source["subject"], source["video"])
        truth = exact_targets(str(truth_file), source["onset"], path, index) if truth_file.is_file() else None
        if truth is None:
            raise SystemExit(f"{path}: no exact ground truth (not a synthetic store)")
        margin = centre_offset(frames.shape[-1], CROP)
        for p in range(3):
            first, second = frames[index[p]], frames[index[p + 1]]
            zero.append(float(np.linalg.norm(truth["flow"][p], axis=0).mean()))
            for name, params in SETTINGS.items():
                started = time.perf_counter()
                flow = tvl1_flow(first, second, **params)
                seconds[name] += time.perf_counter() - started
                crop = flow[:, margin : margin + CROP, margin : margin + CROP]
                errors[name].append(float(np.linalg.norm(crop - truth["flow"][p], axis=0).mean()))
    print(f"{len(zero)} pairs from {len(stores)} stores; no motion: EPE {np.mean(zero):.4f} px")
    base = seconds["2/2"]
    for name in SETTINGS:
        per_pair = seconds[name] / len(zero)
        print(f"{name:14s} EPE {np.mean(errors[name]):.4f} px   {per_pair:.3f} s/pair   {seconds[name] / base:.2f}x the time of 2/2")


if __name__ == "__main__":
    main()
