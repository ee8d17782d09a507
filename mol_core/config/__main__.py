"""Config tools.

``python -m mol_core.config show [--configfile F ...] [--experiment E ...] [--all]``: prints,
as YAML, exactly what the workflow would run with ``snakemake --configfile F ...``: the
preset, the preprocessing (TV-L1 with OpenCV's defaults written out), the sampling, the
threads, the datasets and every planned experiment (or those named; ``--all``: every one)
with its network, training and sampling, and the settings in which it differs from the
``paper`` preset. Run it from the repository (it reads ``config.yaml`` there, or ``--base``).

``python -m mol_core.config write --settings JSON --out FILE``: writes an experiment's
record (the workflow's ``results/{experiment}/config.yaml``).
"""

from __future__ import annotations

import argparse
import sys

from ..util.atomic import write_bytes
from ..util.cli import command, json_argument
from .effective import BASE_CONFIG, dump, effective_view, resolved_config


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.config", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the effective config")
    show.add_argument("--configfile", nargs="+", default=[], help="config files merged over the base, as snakemake's --configfile")
    show.add_argument("--base", default=str(BASE_CONFIG), help="the Snakefile's config (default: config.yaml of this repository)")
    show.add_argument("--experiment", nargs="+", default=None, help="only these experiments")
    show.add_argument("--all", action="store_true", help="every experiment, not only the planned ones")
    write = sub.add_parser("write", help="write an experiment's record")
    write.add_argument("--settings", required=True)
    write.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "write":
        write_bytes(args.out, dump(json_argument(args.settings, "--settings")).encode())
        return 0
    config = resolved_config(args.configfile, args.base)
    experiments = list(config["experiments"]) if args.all else args.experiment
    print(dump(effective_view(config, experiments)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
