"""Dataset tools.

``python -m mol_core.datasets check NAME ROOT [--classes N] [--coding FILE] [--exclude KIND
...] [--strict] [--deep]``: the coding file(s) read and the frame layout found, per-class and
per-subject counts, action-unit counts, the videos the protocol leaves out, every correction
of the coding file applied (with its source) and every one not needed, doubtful annotations
(apex at onset, overlong MEs, the owners' exception lists), the videos that will be skipped
with their reasons (the loader's, and a video with a broken frame file: a truncated or
undecodable image, or one whose size or channels differ from its video's first frame, found
from headers and end markers, or by decoding every frame with ``--deep``), notes, and the
problems of the dataset itself.
It compares the copy's counts with the complete release's. Exit 1 if there is a problem of
the dataset itself (what blocks a run), or with ``--strict`` a video that will be skipped.

``python -m mol_core.datasets table NAME ROOT --out videos.parquet [--classes N]
[--exclude KIND ...] [--strict] [--windows JSON]``: the video table the workflow uses; the
skipped videos (reasons) and the doubtful annotations go in its metadata (``attrs``:
``skipped``, ``flags``: ``pd.read_parquet(...).attrs``); ``--windows`` cuts long videos into
windows first (:mod:`mol_core.datasets.windows`). A skipped video is printed and left out;
``--strict`` stops instead.

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
from . import FLAG_KINDS, class_names, default_classes, records_to_table, require_loadable, scan
from .folds import loso_warnings
from .labels import dataset_facts
from .windows import WindowSettings, cut_windows, window_counts


def parse_root(name: str, root: str | None, what: str = "ROOT"):
    """A folder, or for the composite set a JSON object {"casme2": ..., "samm": ..., "smic": ...}."""
    if root is not None and (name == "composite" or root.lstrip().startswith("{")):
        try:
            return json.loads(root)
        except json.JSONDecodeError as error:
            raise MolError(f'{what} of {name} must be a JSON object {{"casme2": ..., ...}}: {error}') from None
    return root


def check_report(
    name: str, root, classes: int | None, coding, deep: bool = False, exclude=(), strict: bool = False, val_subjects: int = 2
) -> tuple[str, int]:
    """(the report, the number of what blocks a run: problems of the dataset, and with
    ``strict`` every video that will be skipped). Warnings for a LOSO run drawing
    ``val_subjects`` validation subjects (the paper preset's 2; 0: none) block nothing. A video whose frame files are broken will be
    skipped by preprocessing, as the loader's own skips are: listed, not blocking."""
    result = scan(name, root, classes, coding, exclude)
    will_skip = [str(s) for s in result.skipped]
    for record in result.records:
        broken = frame_problems(record.frames, deep)
        if broken:
            will_skip.append(f"{record.key}: {'; '.join(broken)} (preprocessing will skip it)")
    names = class_names(name, classes)
    by_class = Counter(names[r.label] for r in result.records)
    by_subject = Counter(r.subject for r in result.records)
    lines = [
        f"{name} ({counted(len(names), 'class', 'classes')}): {counted(len(result.records), 'video')}, {counted(len(by_subject), 'subject')}"
    ]
    lines += [f"  coding file: {path}" for path in result.coding_files]
    lines += [f"  frames: {layout}" for layout in result.frame_layouts]
    lines += release_lines(name, classes, len(result.records), len(by_subject))
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
    lines += doubtful_lines(result)
    mode = "strict: each stops the run" if strict else "the run goes on without them; --strict stops instead"
    lines.append(f"will be skipped: {len(will_skip)}" + (f" ({mode})" if will_skip else ""))
    lines += [f"  - {s}" for s in will_skip]
    if result.notes:
        lines.append(f"notes: {len(result.notes)}")
        lines += [f"  - {n}" for n in result.notes]
    warnings = loso_warnings(dict(by_subject), val_subjects) if val_subjects else []
    lines.append(f"warnings for a LOSO run with val_subjects {val_subjects}: {len(warnings)}")
    lines += [f"  - {w}" for w in warnings]
    lines.append(f"problems (block a run): {len(result.problems)}")
    lines += [f"  - {p}" for p in result.problems]
    return "\n".join(lines), len(result.problems) + (len(will_skip) if strict else 0)


def release_lines(name: str, classes: int | None, videos: int, subjects: int) -> list[str]:
    """This copy's counts against the complete release's (facts.yaml ``published``)."""
    published = dataset_facts(name).get("published", {}).get(classes or default_classes(name))
    if not published:
        return []
    full_videos, full_subjects = published
    if (videos, subjects) == (full_videos, full_subjects):
        return [f"  complete: the release's {full_videos} videos of {full_subjects} subjects in this protocol"]
    return [f"  of the complete release: {videos} of {full_videos} videos, {subjects} of {full_subjects} subjects in this protocol"]


def doubtful_lines(result) -> list[str]:
    """Doubtful annotations of the loaded videos, counted per kind, each video named."""
    by_kind: dict[str, list[str]] = {}
    for key, flags in sorted(result.flags.items()):
        for flag in flags:
            by_kind.setdefault(flag.kind, []).append(f"{key}: {flag.detail}")
    if not by_kind:
        return []
    lines = ["doubtful annotations (loaded as coded; --exclude KIND leaves them out): " + ", ".join(f"{k} {len(v)}" for k, v in by_kind.items())]
    for kind, found in by_kind.items():
        lines.append(f"  {kind} ({FLAG_KINDS[kind]}):")
        lines += [f"    - {line}" for line in found]
    return lines


def table_attrs(result) -> dict:
    """What a video table's metadata keeps of a scan: the skipped videos and the flags."""
    return {
        "skipped": [{"subject": s.subject, "video": s.video, "reason": s.reason} for s in result.skipped],
        "flags": {key: [str(flag) for flag in flags] for key, flags in result.flags.items()},
    }


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
        p.add_argument("--exclude", nargs="*", default=[], choices=list(FLAG_KINDS), help="leave out the videos flagged so")
        p.add_argument("--strict", action="store_true", help="a skipped video is an error, not left out")
        if name == "table":
            p.add_argument("--out", required=True)
            p.add_argument("--windows", default=None, help="JSON: cut the videos into windows (frames, stride, per_subject, per_class)")
        else:
            p.add_argument("--deep", action="store_true", help="decode every frame (default: headers and end markers)")
            p.add_argument(
                "--val-subjects",
                type=int,
                default=2,
                help="warn about a LOSO run drawing this many validation subjects (train.val_subjects; 0: no warnings)",
            )
    args = parser.parse_args(argv)
    root = parse_root(args.name, args.root)
    coding = parse_root(args.name, args.coding, "--coding")
    if args.command == "check":
        report, problems = check_report(args.name, root, args.classes, coding, args.deep, args.exclude, args.strict, args.val_subjects)
        print(report)
        return 1 if problems else 0
    result = scan(args.name, root, args.classes, coding, args.exclude)
    require_loadable(result, f"{args.name} at {args.root}", args.strict)
    for skipped in result.skipped:
        print(f"skipped {skipped}")
    records = result.records
    if not records:
        raise MolError(f"{args.name} at {args.root}: no videos with a class of this protocol")
    if args.windows:
        windowed = cut_windows(records, WindowSettings.from_dict(json_argument(args.windows, "--windows")))
        print(f"{args.name}: {window_counts(records, windowed)}")
        if not windowed:
            raise MolError(f"{args.name} at {args.root}: no video is as long as one window ({args.windows})")
        records = windowed
    frame = records_to_table(records)
    frame.attrs.update(table_attrs(result))
    write_parquet(frame, args.out)
    counts = frame.groupby("emotion").size().to_dict()
    print(
        f"{args.name}: {len(frame)} videos, {frame.subject.nunique()} subjects, emotions {counts}; "
        f"{len(result.skipped)} skipped, {len(result.flags)} with doubtful annotations (check lists them) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
