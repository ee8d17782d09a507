"""Preprocess one video of a video table into its Zarr store.

``python -m mol_core.preprocess --videos videos.parquet --subject S --video V --out S/V.zarr
--settings JSON --sampling JSON [--threads N]``
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from ..errors import MolError
from ..sampling import Sampling
from .video import PreprocessSettings, preprocess_video


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.preprocess", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, help="video table (Parquet) of the dataset")
    parser.add_argument("--subject", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--out", required=True, help="store path (.zarr) to write")
    parser.add_argument("--settings", default="{}", help="JSON: PreprocessSettings fields")
    parser.add_argument("--sampling", default='[{"frames": 8}]', help="JSON list of Sampling fields")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        settings = PreprocessSettings.from_dict(json.loads(args.settings))
        samplings = [Sampling(**s) for s in json.loads(args.sampling)]
        table = pd.read_parquet(args.videos)
        row = table[(table.subject == args.subject) & (table.video == args.video)]
        if len(row) != 1:
            raise MolError(f"{args.videos}: video {args.subject}/{args.video} not found")
        row = row.iloc[0]
        source = {"dataset": row.dataset, "subject": row.subject, "video": row.video}
        summary = preprocess_video(list(row.frames), args.out, settings, samplings, source, threads=args.threads)
    except (MolError, ValueError) as error:
        print(f"error: {args.subject}/{args.video}: {error}", file=sys.stderr)
        return 1
    name = f"{args.subject}/{args.video}"
    if summary["status"] == "skipped":
        print(f"{name}: skipped: {summary['reason']}")
    else:
        print(f"{name}: {summary['frames']} frames, {summary['pairs']} flow pairs, "
              f"{summary['seconds']:.1f} s (TV-L1 {summary['flow_seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
