"""``python -m mol_core.datasets table NAME ROOT --out videos.parquet [--classes N]``."""

from __future__ import annotations

import argparse
import sys

from ..atomic import write_parquet
from ..errors import MolError
from . import load, records_to_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.datasets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    table = sub.add_parser("table", help="write the video table (Parquet) of a dataset")
    table.add_argument("name")
    table.add_argument("root")
    table.add_argument("--out", required=True)
    table.add_argument("--classes", type=int, default=None)
    table.add_argument("--coding", default=None)
    args = parser.parse_args(argv)
    try:
        records = load(args.name, args.root, classes=args.classes, coding=args.coding)
        if not records:
            raise MolError(f"{args.name} at {args.root}: no videos with a known class")
        frame = records_to_table(records)
        write_parquet(frame, args.out)
    except MolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = frame.groupby("emotion").size().to_dict()
    print(f"{args.name}: {len(frame)} videos, {frame.subject.nunique()} subjects, classes {counts} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
