"""Preprocess the videos of one subject of a video table: each video's store (aligned frames,
landmarks) and the flow of one clip sampling, reusing whatever the cache already holds; then
a small JSON marker per video that says what was made (or why the video is skipped).

``python -m mol_core.preprocess --videos videos.parquet --subject S --stores DIR
--markers DIR [--video V ...] --settings JSON --sampling JSON [--threads N]``: stores go to
``DIR/S/V.zarr``, markers to ``DIR/V.json``. One process serves all of a subject's videos, so
the dlib models are loaded once (the workflow runs one job per subject). A video that fails
does not stop the others; the command then exits 1 naming the failed ones.

``python -m mol_core.preprocess --videos videos.parquet --subject S --video V
--store S/V.zarr --marker M.json ...``: one video, its store and its marker named.

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
import sys
import time
from pathlib import Path

import pandas as pd

from ..clips.sampling import Sampling
from ..errors import MolError
from ..store.keys import PreprocessSettings, marker_path, video_store
from ..store.markers import Marker
from ..store.zarr_store import store_problem
from ..util.atomic import atomic_path, dead_temporaries, remove_path
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
    parser.add_argument(
        "--remove", action="store_true", help="delete damaged stores (the next run rebuilds them) and the temporaries of killed writers"
    )
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
    leftovers = sorted({t for path in args.paths for folder in _folders(Path(path)) for t in dead_temporaries(folder)})
    for leftover in leftovers:
        if args.remove:
            remove_path(leftover)
        print(f"{leftover}: a temporary its writer (a process of this host, no longer running) left" + (" (removed)" if args.remove else ""))
    print(
        f"{len(stores)} stores checked, {damaged} damaged"
        + (" and removed" if args.remove and damaged else "")
        + f"; {len(leftovers)} leftover temporaries"
        + (" removed" if args.remove and leftovers else "")
    )
    return 1 if damaged else 0


def _folders(path: Path) -> list[Path]:
    """``path`` and every folder under it (a store's own folders included)."""
    if not path.is_dir():
        return [path.parent]
    return [path, *(p for p in path.rglob("*") if p.is_dir())]


def subject_rows(table_path: str, subject: str, videos: list[str] | None) -> list:
    """The video table's rows of ``subject`` (only ``videos``, in that order, when given)."""
    table = pd.read_parquet(table_path)
    rows = table[table.subject == subject]
    if videos is None:
        if rows.empty:
            raise MolError(f"{table_path}: subject {subject} has no videos")
        return list(rows.itertuples(index=False))
    by_video = {row.video: row for row in rows.itertuples(index=False)}
    missing = [v for v in videos if v not in by_video]
    if missing:
        raise MolError(f"{table_path}: video {subject}/{missing[0]} not found")
    return [by_video[v] for v in videos]


def preprocess_row(row, store: Path, marker: Path, settings: PreprocessSettings, sampling: Sampling, threads: int) -> str:
    """Make (or reuse) one video's store and flow, write its marker; the line for the log."""
    apex = None if pd.isna(row.apex) else int(row.apex)
    source = {
        "dataset": row.dataset,
        "subject": row.subject,
        "video": row.video,
        "onset": int(row.onset),
        "apex": apex,
        "offset": int(row.offset),
    }
    apex_index = None if apex is None else apex - int(row.onset)
    result = preprocess_video(list(row.frames), store, settings, [sampling], source, threads=threads, apex_index=apex_index)
    (flow,) = result.flows.values()
    Marker(row.subject, row.video, result.status, str(store), flow.flow, result.reason, flow.pairs).write(marker)
    name = f"{row.subject}/{row.video}"
    if not result.complete:
        rebuilt = result.store.rebuilt
        return f"{name}: skipped: {result.reason}" + (f" (store rebuilt: {rebuilt})" if rebuilt else "")
    return f"{name}: store {result.store.how()}; flow {flow.flow} ({flow.pairs} pairs) {flow.how()}"


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
    parser.add_argument("--video", action="append", help="a video of the subject (repeatable); default with --stores: all of them")
    parser.add_argument("--stores", help="the cache folder of this dataset and preprocessing key: stores go to STORES/<subject>/<video>.zarr")
    parser.add_argument("--markers", help="folder for the subject's markers, one <video>.json each (made if absent)")
    parser.add_argument("--store", help="one video's store (.zarr), with one --video and --marker")
    parser.add_argument("--marker", help="one video's JSON marker, with one --video and --store")
    parser.add_argument("--settings", default="{}", help="JSON: PreprocessSettings fields")
    parser.add_argument("--sampling", default='{"frames": 8}', help="JSON: Sampling fields")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    single = args.store is not None or args.marker is not None
    if single and (args.store is None or args.marker is None or len(args.video or []) != 1 or args.stores or args.markers):
        parser.error("--store and --marker go together, with exactly one --video and without --stores/--markers")
    if not single and (args.stores is None or args.markers is None):
        parser.error("give --stores and --markers (a subject's videos), or --video, --store and --marker (one video)")
    raw_settings, raw_sampling = json_argument(args.settings, "--settings"), json_argument(args.sampling, "--sampling")
    with error_context("--settings"):
        settings = PreprocessSettings.from_dict(raw_settings)
    with error_context("--sampling"):
        sampling = Sampling.from_dict(raw_sampling)
    rows = subject_rows(args.videos, args.subject, args.video)
    if single:
        with error_context(f"{args.subject}/{rows[0].video}"):
            print(preprocess_row(rows[0], Path(args.store), Path(args.marker), settings, sampling, args.threads))
        return 0
    preprocess_subject(rows, args.stores, args.markers, settings, sampling, args.threads)
    return 0


def preprocess_subject(rows: list, stores: str, markers: str, settings: PreprocessSettings, sampling: Sampling, threads: int) -> None:
    """Every video of ``rows`` (one subject) in turn. The marker folder appears whole, by one
    rename, once every video is done: the workflow, which drops a subject's folder when a
    marker in it is missing or stale, never sees a partial one. A video that fails does not
    stop the others (their stores stay in the cache for the rerun); then MolError, and no
    marker folder."""
    failed, started = [], time.perf_counter()
    with atomic_path(markers) as folder:
        folder.mkdir()
        for row in rows:
            name = f"{row.subject}/{row.video}"
            try:
                with error_context(name):
                    print(
                        preprocess_row(
                            row, video_store(stores, row.subject, row.video), marker_path(folder, row.video), settings, sampling, threads
                        ),
                        flush=True,
                    )
            except MolError as error:
                print(f"error: {error}", file=sys.stderr, flush=True)
                failed.append(name)
        print(f"{rows[0].subject}: {len(rows)} videos in {time.perf_counter() - started:.1f} s", flush=True)
        if failed:
            raise MolError(f"{len(failed)} of {len(rows)} videos failed ({', '.join(failed)}); the others' stores are kept for the next run")


if __name__ == "__main__":
    sys.exit(main())
