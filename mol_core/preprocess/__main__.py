"""Preprocess one video of a video table: its store (aligned frames, landmarks) and the flow
of one clip sampling, reusing whatever the cache already holds; then write a small JSON
marker that says what was made (or why the video is skipped).

``python -m mol_core.preprocess --videos videos.parquet --subject S --video V
--store S/V.zarr --marker M.json --settings JSON --sampling JSON [--threads N]``

A store is reused only when it is complete, undamaged (every chunk file present at its
recorded size) and made from the same sources (frame files' paths, sizes and modification
times, and the video's onset, apex and offset); otherwise it is rebuilt, and the log says why.

``python -m mol_core.preprocess verify PATH... [--remove]``: the full check of stores (a
``.zarr``, or a folder such as the cache searched for them): every chunk present, unchanged
since it was written, and decodable. Lists each damaged store with its problem (exit 1 if
any); ``--remove`` deletes them, so the next run rebuilds them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from ..clips.sampling import Sampling
from ..errors import MolError
from ..store.keys import PreprocessSettings
from ..store.zarr_store import store_problem
from ..util.atomic import remove_path, write_text
from ..util.cli import command, error_context, existing_file, json_argument
from .video import preprocess_video


def find_stores(paths: list[str]) -> list[Path]:
    """The stores named, and those under the folders named (sorted; temporary ones left out)."""
    stores = []
    for path in map(Path, paths):
        if path.suffix == ".zarr":
            stores.append(path)
        elif path.is_dir():
            stores += [p for p in path.rglob("*.zarr") if p.is_dir() and not p.name.startswith(".")]
        else:
            raise MolError(f"{path}: neither a .zarr store nor a folder")
    return sorted(stores)


def verify_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.preprocess verify", description="Full check of preprocessing stores (see python -m mol_core.preprocess -h)."
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a .zarr store, or a folder (the cache) to search")
    parser.add_argument("--remove", action="store_true", help="delete damaged stores so the next run rebuilds them")
    args = parser.parse_args(argv)
    stores = find_stores(args.paths)
    damaged = 0
    for store in stores:
        problem = store_problem(store, full=True)
        if problem:
            damaged += 1
            if args.remove:
                remove_path(store)
            print(f"{store}: {problem}" + (" (removed)" if args.remove else ""))
    print(f"{len(stores)} stores checked, {damaged} damaged" + (" and removed" if args.remove and damaged else ""))
    return 1 if damaged else 0


@command
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["verify"]:
        return verify_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.preprocess", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", required=True, type=existing_file, help="video table (Parquet) of the dataset")
    parser.add_argument("--subject", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--store", required=True, help="the video's store (.zarr) in the cache")
    parser.add_argument("--marker", required=True, help="JSON file to write when done")
    parser.add_argument("--settings", default="{}", help="JSON: PreprocessSettings fields")
    parser.add_argument("--sampling", default='{"frames": 8}', help="JSON: Sampling fields")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    name = f"{args.subject}/{args.video}"
    with error_context(name):
        settings = PreprocessSettings.from_dict(json_argument(args.settings, "--settings"))
        sampling = Sampling.from_dict(json_argument(args.sampling, "--sampling"))
        table = pd.read_parquet(args.videos)
        row = table[(table.subject == args.subject) & (table.video == args.video)]
        if len(row) != 1:
            raise MolError(f"{args.videos}: video {name} not found")
        row = row.iloc[0]
        source = {
            "dataset": row.dataset,
            "subject": row.subject,
            "video": row.video,
            "onset": int(row.onset),
            "apex": None if pd.isna(row.apex) else int(row.apex),
            "offset": int(row.offset),
        }
        apex_index = None if pd.isna(row.apex) else int(row.apex) - int(row.onset)
        summary = preprocess_video(list(row.frames), args.store, settings, [sampling], source, threads=args.threads, apex_index=apex_index)
    (flow,) = summary["flows"].values()
    marker = {
        "subject": args.subject,
        "video": args.video,
        "status": summary["status"],
        "reason": summary["reason"],
        "store": args.store,
        "flow": flow["flow"],
        "pairs": flow["pairs"],
    }
    write_text(args.marker, json.dumps(marker, indent=1))
    if summary["status"] == "skipped":
        rebuilt = summary["store"]["rebuilt"]
        print(f"{name}: skipped: {summary['reason']}" + (f" (store rebuilt: {rebuilt})" if rebuilt else ""))
    else:

        def how(step: dict) -> str:
            if step["reused"]:
                return "reused from the cache"
            return (f"rebuilt ({step['rebuilt']})" if step["rebuilt"] else "made") + f" in {step['seconds']:.1f} s"

        print(f"{name}: store {how(summary['store'])}; flow {flow['flow']} ({flow['pairs']} pairs) {how(flow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
