"""``python -m mol_core.synthetic --out ROOT --faces DIR [--settings JSON] [--jobs N]
[--part all|subjects|extra]``."""

from __future__ import annotations

import argparse
import sys

from ..util.cli import command, json_argument
from .generate import GENERATED_PARTS, SyntheticSettings, generate_dataset


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.synthetic", description="Generate the synthetic dataset.")
    parser.add_argument("--out", required=True, help="dataset root to write")
    parser.add_argument("--faces", required=True, help="folder of source face photographs")
    parser.add_argument("--settings", default="{}", help="JSON object of SyntheticSettings fields")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--part", choices=GENERATED_PARTS, default="all", help="subjects: all but the extra identities; extra: only those, directly under --out"
    )
    args = parser.parse_args(argv)
    settings = SyntheticSettings.from_dict(json_argument(args.settings, "--settings"))
    generate_dataset(args.out, args.faces, settings, n_jobs=args.jobs, part=args.part)
    return 0


if __name__ == "__main__":
    sys.exit(main())
