"""One preprocessing job per subject against one per video, printed as a ratio measured in one
run (not run by pytest).

    python tests/benchmarks/preprocess_jobs.py [--videos 6] [--frames 16]

Generates one synthetic subject, then preprocesses its videos twice, each time into an empty
cache, with the workflow's command (``python -m mol_core.preprocess``): once as one process
per video (the libraries and dlib's models load every time), once as one process for the
subject. Prints the seconds of each and the ratio (target: the subject's job at least 1.5x
faster on the demo's 20-frame videos; Snakemake's own per-job cost comes on top of the
per-video processes and is not counted here).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mol_core.datasets import load, records_to_table
from mol_core.synthetic import SyntheticSettings, generate_dataset

REPO = Path(__file__).resolve().parents[2]
SETTINGS = '{"flow": {"nscales": 3, "warps": 3}}'  # the demo's TV-L1


def timed(commands: list[list[str]]) -> float:
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=6, help="videos of the subject (at most 5 classes x 2)")
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = SyntheticSettings(subjects=1, videos_per_class=2, frames=args.frames, seed=3)
        table = records_to_table(load("synthetic", generate_dataset(tmp / "data", REPO / "resources" / "faces", settings, verbose=False)))
        table = table.iloc[: args.videos]
        videos = tmp / "videos.parquet"
        table.to_parquet(videos)
        subject = table.subject.iloc[0]
        base = [sys.executable, "-m", "mol_core.preprocess", "--videos", str(videos), "--subject", subject, "--settings", SETTINGS]
        per_video = timed(
            [
                [*base, "--video", v, "--store", str(tmp / "a" / subject / f"{v}.zarr"), "--marker", str(tmp / "am" / f"{v}.json")]
                for v in table.video
            ]
        )
        per_subject = timed([[*base, "--stores", str(tmp / "b"), "--markers", str(tmp / "bm")]])
    n = len(table)
    print(f"{n} videos of {args.frames} frames: one process per video {per_video:.1f} s ({per_video / n:.1f} s/video)")
    print(f"one process for the subject {per_subject:.1f} s ({per_subject / n:.1f} s/video)")
    print(f"per-subject job speed-up: {per_video / per_subject:.2f}x")


if __name__ == "__main__":
    main()
