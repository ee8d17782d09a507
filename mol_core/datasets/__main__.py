"""Dataset tools.

``python -m mol_core.datasets check NAME ROOT [--classes N] [--coding FILE] [--deep]``: the
coding file(s) read, per-class and per-subject counts, action-unit counts, the videos the
protocol leaves out, every correction of the coding file applied (with its source), notes,
and every problem found (exit 1 if any), frame files included: a missing frame, a truncated
or broken image, or one whose size or channels differ from its video's first frame, found
from headers and end markers (cheap), or by decoding every frame with ``--deep``.

``python -m mol_core.datasets table NAME ROOT --out videos.parquet [--classes N]
[--windows JSON]``: the video table the workflow uses; ``--windows`` cuts long videos into
windows first (:mod:`mol_core.datasets.windows`).

NAME: one of ``mol_core.datasets.LOADERS``. For composite, ROOT is a JSON object
``{"casme2": DIR, "samm": DIR, "smic": DIR}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from ..errors import MolError
from ..util.atomic import write_parquet
from ..util.cli import command, json_argument
from ..util.frame_check import frame_problems
from ..util.text import counted
from . import class_names, load, records_to_table, scan
from .windows import WindowSettings, cut_windows, window_counts


def parse_root(name: str, root: str | None, what: str = "ROOT"):
    """A folder, or for the composite set a JSON object {"casme2": ..., "samm": ..., "smic": ...}."""
    if root is not None and (name == "composite" or root.lstrip().startswith("{")):
        try:
            return json.loads(root)
        except json.JSONDecodeError as error:
            raise MolError(f'{what} of {name} must be a JSON object {{"casme2": ..., ...}}: {error}') from None
    return root


def check_report(name: str, root, classes: int | None, coding, deep: bool = False) -> tuple[str, int]:
    result = scan(name, root, classes, coding)
    for record in result.records:
        result.problems += [f"{record.key}: {p}" for p in frame_problems(record.frames, deep)]
    names = class_names(name, classes)
    by_class = Counter(names[r.label] for r in result.records)
    by_subject = Counter(r.subject for r in result.records)
    lines = [
        f"{name} ({counted(len(names), 'class', 'classes')}): {counted(len(result.records), 'video')}, {counted(len(by_subject), 'subject')}"
    ]
    lines += [f"  coding file: {path}" for path in result.coding_files]
    lines += [f"  frames: {layout}" for layout in result.frame_layouts]
    lines.append("  classes: " + ", ".join(f"{c} {by_class.get(c, 0)}" for c in names))
    sources = Counter(r.dataset for r in result.records)
    if len(sources) > 1:
        lines.append(
            "  sources: "
            + ", ".join(
                f"{s} {counted(n, 'video')} / {counted(len({r.subject for r in result.records if r.dataset == s}), 'subject')}"
                for s, n in sources.items()
            )
        )
    lines.append("  subjects: " + ", ".join(f"{s} {n}" for s, n in sorted(by_subject.items())))
    by_action_unit = Counter(number for r in result.records for number in r.au_numbers)
    if by_action_unit:
        lines.append("  action units (videos): " + ", ".join(f"AU{n} {c}" for n, c in sorted(by_action_unit.items())))
    if result.left_out:
        lines.append("  left out by the protocol: " + ", ".join(f"{k} {v}" for k, v in sorted(result.left_out.items())))
    lines.append(f"corrections of the coding file applied: {len(result.corrections)}")
    lines += [f"  - {c}" for c in result.corrections]
    if result.notes:
        lines.append(f"notes: {len(result.notes)}")
        lines += [f"  - {n}" for n in result.notes]
    lines.append(f"problems: {len(result.problems)}")
    lines += [f"  - {p}" for p in result.problems]
    return "\n".join(lines), len(result.problems)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.datasets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "table"):
        p = sub.add_parser(name)
        p.add_argument("name")
        p.add_argument("root")
        p.add_argument("--classes", type=int, default=None)
        p.add_argument("--coding", default=None, help="the coding file, if not at its default place")
        if name == "table":
            p.add_argument("--out", required=True)
            p.add_argument("--windows", default=None, help="JSON: cut the videos into windows (frames, stride, per_subject, per_class)")
        else:
            p.add_argument("--deep", action="store_true", help="decode every frame (default: headers and end markers)")
    args = parser.parse_args(argv)
    root = parse_root(args.name, args.root)
    coding = parse_root(args.name, args.coding, "--coding")
    if args.command == "check":
        report, problems = check_report(args.name, root, args.classes, coding, args.deep)
        print(report)
        return 1 if problems else 0
    records = load(args.name, root, classes=args.classes, coding=coding)
    if not records:
        raise MolError(f"{args.name} at {args.root}: no videos with a class of this protocol")
    if args.windows:
        windowed = cut_windows(records, WindowSettings.from_dict(json_argument(args.windows, "--windows")))
        print(f"{args.name}: {window_counts(records, windowed)}")
        if not windowed:
            raise MolError(f"{args.name} at {args.root}: no video is as long as one window ({args.windows})")
        records = windowed
    frame = records_to_table(records)
    write_parquet(frame, args.out)
    counts = frame.groupby("emotion").size().to_dict()
    print(f"{args.name}: {len(frame)} videos, {frame.subject.nunique()} subjects, emotions {counts} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
