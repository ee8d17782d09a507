"""Preprocessing speed, printed as ratios measured in one run (not run by pytest).

    python tests/benchmarks/preprocess_speed.py [--videos 4] [--frames 16]

Generates a few synthetic videos, then prints:
- seconds per frame pair of bare TV-L1 (the same pairs, the same aligned crops) and of the
  full per-video preprocessing (reading frames, detection, alignment, landmarks, TV-L1,
  writing the store), and the share the non-TV-L1 work adds (target: under 25%);
- the speed-up of 2 workers over 1 on the TV-L1 pairs of a video (target: at least 1.7x on
  2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from mol_core.clips.sampling import Sampling
from mol_core.datasets import load
from mol_core.preprocess import open_store, preprocess_video
from mol_core.preprocess.video import compute_flows
from mol_core.store.keys import PreprocessSettings, tvl1_params
from mol_core.synthetic import SyntheticSettings, generate_dataset

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    sampling = Sampling(8)
    settings = PreprocessSettings()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_dataset(
            tmp / "data",
            REPO / "resources" / "faces",
            SyntheticSettings(
                subjects=1, videos_per_class=1, frames=args.frames, classes=("happiness", "surprise", "disgust", "repression")[: args.videos]
            ),
            verbose=False,
        )
        records = load("synthetic", tmp / "data")
        full, bare, pairs_total, one, two = 0.0, 0.0, 0, 0.0, 0.0
        for i, record in enumerate(records):
            out = tmp / "stores" / f"{i}.zarr"
            cv2.setNumThreads(1)
            start = time.perf_counter()
            preprocess_video(record.frames, out, settings, [sampling], {}, threads=1)
            full += time.perf_counter() - start
            crops = open_store(out)["frames"][:]
            pairs = sampling.pairs(len(crops))
            params = tvl1_params(**settings.flow)
            start = time.perf_counter()
            compute_flows(crops, pairs, params, threads=1)
            bare += time.perf_counter() - start
            pairs_total += len(pairs)
            start = time.perf_counter()
            compute_flows(crops, pairs, params, threads=1)
            one += time.perf_counter() - start
            start = time.perf_counter()
            compute_flows(crops, pairs, params, threads=2)
            two += time.perf_counter() - start
    print(f"videos                          {len(records)} ({args.frames} frames, {pairs_total // len(records)} pairs each)")
    print(f"bare TV-L1, s per pair          {bare / pairs_total:.4f}")
    print(f"full preprocessing, s per pair  {full / pairs_total:.4f}")
    print(f"non-TV-L1 overhead              {100 * (full - bare) / bare:.1f}%   (target < 25%)")
    print(f"TV-L1 speed-up, 2 workers vs 1  {one / two:.2f}x  (target >= 1.7x)")
    print(np.round([bare, full, one, two], 3).tolist())


if __name__ == "__main__":
    main()
