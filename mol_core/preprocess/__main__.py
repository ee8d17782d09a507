"""Preprocess one video of a video table: its store (aligned frames, landmarks) and the flow
of one clip sampling, reusing whatever the cache already holds; then write a small JSON
marker that says what was made (or why the video is skipped).

``python -m mol_core.preprocess --videos videos.parquet --subject S --video V
--store S/V.zarr --marker M.json --settings JSON --sampling JSON [--threads N]``
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from ..clips.sampling import Sampling
from ..errors import MolError
from ..store.keys import PreprocessSettings
from ..util.atomic import write_text
from .video import preprocess_video


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.preprocess", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, help="video table (Parquet) of the dataset")
    parser.add_argument("--subject", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--store", required=True, help="the video's store (.zarr) in the cache")
    parser.add_argument("--marker", required=True, help="JSON file to write when done")
    parser.add_argument("--settings", default="{}", help="JSON: PreprocessSettings fields")
    parser.add_argument("--sampling", default='{"frames": 8}', help="JSON: Sampling fields")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    name = f"{args.subject}/{args.video}"
    try:
        settings = PreprocessSettings.from_dict(json.loads(args.settings))
        sampling = Sampling(**json.loads(args.sampling))
        table = pd.read_parquet(args.videos)
        row = table[(table.subject == args.subject) & (table.video == args.video)]
        if len(row) != 1:
            raise MolError(f"{args.videos}: video {name} not found")
        row = row.iloc[0]
        source = {"dataset": row.dataset, "subject": row.subject, "video": row.video}
        apex_index = None if pd.isna(row.apex) else int(row.apex) - int(row.onset)
        summary = preprocess_video(list(row.frames), args.store, settings, [sampling], source, threads=args.threads,
                                   apex_index=apex_index)
    except (MolError, ValueError) as error:
        print(f"error: {name}: {error}", file=sys.stderr)
        return 1
    (flow,) = summary["flows"].values()
    marker = {"subject": args.subject, "video": args.video, "status": summary["status"], "reason": summary["reason"],
              "store": args.store, "flow": flow["flow"], "pairs": flow["pairs"]}
    write_text(args.marker, json.dumps(marker, indent=1))
    if summary["status"] == "skipped":
        print(f"{name}: skipped: {summary['reason']}")
    else:
        def how(step: dict) -> str:
            return "reused from the cache" if step["reused"] else "made in %.1f s" % step["seconds"]

        print(f"{name}: store {how(summary['store'])}; flow {flow['flow']} ({flow['pairs']} pairs) {how(flow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
