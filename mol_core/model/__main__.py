"""``python -m mol_core.model --summary [--frames T] [--classes K] [--option NAME=VALUE ...]``

Prints the parameter count of each part of MOL (options as in config.yaml's ``model``)."""

from __future__ import annotations

import argparse
import sys

import yaml

from ..errors import ConfigError
from ..util.cli import command
from .mol import MOL, check_options

# The authors' published model (CYF-cuber/MOL): total and flow-head parameters.
AUTHORS = {"total": 44.1e6, "flow_head": 39.7e6}


def model_option(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` (value in YAML) -> (name, value); ConfigError for anything else."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise ConfigError(f"--option {text!r}: expected NAME=VALUE")
    try:
        return name, yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ConfigError(f"--option {text!r}: the value is not YAML ({error.__class__.__name__})") from None


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.model", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--summary", action="store_true", help="print parameter counts per part")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a model option, value in YAML (e.g. fusion=subtract, flow_width=0.5)",
    )
    args = parser.parse_args(argv)
    if not args.summary:
        parser.print_help()
        return 0
    options = dict(model_option(o) for o in args.option)
    model = MOL(args.classes, args.frames, **check_options(options))
    counts = model.parameter_counts()
    print(f"MOL(num_classes={args.classes}, frames={args.frames}{''.join(f', {k}={v!r}' for k, v in options.items())})")
    print(f"{'part':<16}{'parameters':>14}{'share':>8}")
    for name, count in counts.items():
        print(f"{name:<16}{count:>14,}{100 * count / counts['total']:>7.1f}%")
    print(f"authors' published model: {AUTHORS['total'] / 1e6:.1f}M in all, {AUTHORS['flow_head'] / 1e6:.1f}M in the flow head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
