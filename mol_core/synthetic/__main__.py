"""``python -m mol_core.synthetic --out ROOT --faces DIR [--settings JSON] [--jobs N]``."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import MolError
from .generate import SyntheticSettings, generate_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.synthetic", description="Generate the synthetic dataset.")
    parser.add_argument("--out", required=True, help="dataset root to write")
    parser.add_argument("--faces", required=True, help="folder of source face photographs")
    parser.add_argument("--settings", default="{}", help="JSON object of SyntheticSettings fields")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        settings = SyntheticSettings.from_dict(json.loads(args.settings))
        generate_dataset(args.out, args.faces, settings, n_jobs=args.jobs)
    except (MolError, ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
