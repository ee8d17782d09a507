"""The clip index: one row per t-frame clip of every preprocessed video (Parquet).

Columns: dataset, subject, video, emotion, label, store (path), flow (its name inside the
store), preparation (:class:`~mol_core.clips.preparation.Preparation` as JSON: the
preprocessing settings and sampling the clips were made with, the same on every row),
content (:func:`mol_core.store.zarr_store.content_digest` of the store and flow: a store
rebuilt with other content changes the index, so the trainings that read it rerun),
clip (0-based within the video), frames (list of t frame indices into the store),
pair_rows (list of t-1 row indices into ``pairs/<flow>`` and ``flow/<flow>``), split (the
owners' split, where a dataset has one), onset (the coded onset, the store's frame 0) and
truth (the exact ground truth's file, synthetic set only). Videos that
were skipped are listed, with the reason, in ``skipped.csv`` (columns subject, video, reason,
stage): those the dataset's loader left out (``data``: frames absent, an apex outside its
range, ...; the video table's metadata) and those preprocessing skipped (``preprocess``).

``python -m mol_core.clips --videos videos.parquet --markers DIR --settings JSON --sampling JSON
--out clips.parquet --skipped skipped.csv`` reads the preprocessing markers
``DIR/{subject}/{video}.json`` (see ``python -m mol_core.preprocess``) that were made with
those settings and that sampling.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, MolError
from ..store.keys import PreprocessSettings
from ..store.markers import markers_in
from ..store.zarr_store import content_digest, flow_problem, has_flow, open_store
from ..util.atomic import write_csv, write_parquet
from ..util.cli import command, existing_file, json_argument
from .preparation import Preparation
from .sampling import Sampling

SKIPPED_COLUMNS = ["subject", "video", "reason", "stage"]
CLIP_COLUMNS = [
    *("dataset", "subject", "video", "emotion", "label", "store", "flow", "preparation", "content"),
    *("clip", "frames", "pair_rows", "split", "onset", "truth"),
]


def video_clips(store, sampling: Sampling, flow: str, apex_index: int | None = None) -> list[tuple[list[int], list[int]]]:
    """(frames, pair_rows) of every clip of one open store whose pairs are ``pairs/<flow>``."""
    n_frames = store["frames"].shape[0]
    pairs = store[f"pairs/{flow}"][:]
    row_of = {(int(a), int(b)): i for i, (a, b) in enumerate(pairs)}
    clips = []
    for frames in sampling.clips(n_frames, apex_index):
        try:
            rows = [row_of[(frames[m], frames[m + 1])] for m in range(len(frames) - 1)]
        except KeyError as missing:
            raise DataError(f"store lacks flow for pair {missing.args[0]} of sampling {sampling.name} in {flow}") from None
        clips.append((frames, rows))
    return clips


def build_clip_index(videos: pd.DataFrame, marker_of, preparation: Preparation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clips, skipped) for a video table; ``marker_of(subject, video)`` gives the video's
    preprocessing :class:`~mol_core.store.markers.Marker`, which must name the flow of
    ``preparation`` (DataError otherwise: the markers were made with other settings)."""
    rows, skipped = [], []
    sampling, record = preparation.sampling, preparation.to_json()
    for video in videos.itertuples(index=False):
        marker = marker_of(video.subject, video.video)
        if not marker.complete:
            skipped.append({"subject": video.subject, "video": video.video, "reason": marker.reason, "stage": "preprocess"})
            continue
        path, flow = Path(marker.store), marker.flow
        if flow != preparation.flow:
            raise DataError(
                f"marker of {video.subject}/{video.video} names flow {flow}, not {preparation.flow} of the given "
                "preprocessing settings and sampling: the markers were made with other settings"
            )
        store = open_store(path)
        if not has_flow(path, flow):
            raise DataError(f"{path}: no complete flow {flow}; rerun preprocessing")
        apex_index = None if pd.isna(video.apex) else int(video.apex) - int(video.onset)
        content = content_digest(path, flow)
        for clip, (frames, pair_rows) in enumerate(video_clips(store, sampling, flow, apex_index)):
            rows.append(
                {
                    "dataset": video.dataset,
                    "subject": video.subject,
                    "video": video.video,
                    "emotion": video.emotion,
                    "label": int(video.label),
                    "store": str(path),
                    "flow": flow,
                    "preparation": record,
                    "content": content,
                    "clip": clip,
                    "frames": frames,
                    "pair_rows": pair_rows,
                    "split": getattr(video, "split", None),  # the owners' split, where the dataset has one
                    "onset": int(video.onset),
                    "truth": getattr(video, "truth", None),  # the synthetic set's exact ground truth
                }
            )
    clips = pd.DataFrame(rows, columns=CLIP_COLUMNS)
    return clips, pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)


def data_skipped(videos: pd.DataFrame) -> pd.DataFrame:
    """The videos the loader skipped, from a video table's metadata (``attrs["skipped"]``;
    none in a table written before it kept them)."""
    rows = [{**row, "stage": "data"} for row in videos.attrs.get("skipped", [])]
    return pd.DataFrame(rows, columns=SKIPPED_COLUMNS)


PROBLEMS_LISTED = 10  # an index check stops after this many bad rows


def index_problems(clips: pd.DataFrame, num_classes: int | None = None, limit: int = PROBLEMS_LISTED) -> list[str]:
    """What keeps a clip index's rows from being read as they say (at most ``limit``): a
    store or flow absent or incomplete, a frame index outside its store, a pair row outside
    its flow or not the pair of the clip's consecutive frames, a label outside the classes.
    Each names the row (0-based), its video and clip. Opens each store once."""
    missing = [c for c in ("subject", "video", "label", "store", "flow", "clip", "frames", "pair_rows") if c not in clips.columns]
    if missing:
        return [f"not a clip index: no column(s) {', '.join(missing)}"]
    problems: list[str] = []
    shapes: dict[tuple[str, str], tuple[int, np.ndarray] | str] = {}
    for number, row in enumerate(clips.itertuples(index=False)):
        if len(problems) >= limit:
            break
        where = f"row {number} ({row.subject}/{row.video} clip {row.clip})"
        key = (str(row.store), str(row.flow))
        if key not in shapes:
            try:
                store = open_store(row.store)
                problem = flow_problem(row.store, row.flow)
                shapes[key] = problem if problem else (int(store["frames"].shape[0]), store[f"pairs/{row.flow}"][:])
            except DataError as error:
                shapes[key] = str(error)
        known = shapes[key]
        if isinstance(known, str):
            problems.append(f"{where}: {known}")
            continue
        n_frames, pairs = known
        frames, pair_rows = [int(f) for f in row.frames], [int(r) for r in row.pair_rows]
        if num_classes is not None and not 0 <= int(row.label) < num_classes:
            problems.append(f"{where}: label {row.label} outside the {num_classes} classes")
        elif not all(0 <= f < n_frames for f in frames):
            problems.append(f"{where}: frame {max(frames)} outside its store's {n_frames} frames ({row.store})")
        elif len(pair_rows) != len(frames) - 1 or not all(0 <= r < len(pairs) for r in pair_rows):
            problems.append(f"{where}: pair rows {pair_rows} do not fit its {len(frames)} frames and flow {row.flow}'s {len(pairs)} pairs")
        elif any(tuple(pairs[r]) != (a, b) for r, a, b in zip(pair_rows, frames[:-1], frames[1:], strict=True)):
            problems.append(f"{where}: pair rows {pair_rows} are not the pairs of its frames {frames} in flow {row.flow}")
    return problems


def check_clip_index(clips: pd.DataFrame, where: str | Path, num_classes: int | None = None) -> None:
    """DataError naming ``where`` (the index file) and its bad rows, if :func:`index_problems`
    finds any: an index edited by hand or written by another version is refused before
    training or prediction reads a frame of another video."""
    problems = index_problems(clips, num_classes)
    if problems:
        count = f"{len(problems)}{'+' if len(problems) >= PROBLEMS_LISTED else ''}"
        raise DataError(f"{where}: {count} row(s) do not match what they point to: " + "; ".join(problems[:3]))


def combine_clip_tables(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One training table from the clip indexes of several datasets (a leave-one-dataset-out
    fold trains on all but one). A subject name found in more than one table (``sub01`` of
    CASME II and of another set) becomes ``{dataset}:{subject}`` in each, so the validation
    split and the per-video means never merge two people; a name still shared after that
    (the same loader's subjects twice: the same videos under two roots?) is a DataError."""
    if len(tables) == 1:
        return tables[0]
    counts = pd.Series([s for t in tables for s in t.subject.unique()]).value_counts()
    shared = set(counts.index[counts > 1])
    out = [t.assign(subject=t.subject.where(~t.subject.isin(shared), t.dataset + ":" + t.subject)) for t in tables]
    counts = pd.Series([s for t in out for s in t.subject.unique()]).value_counts()
    if (counts > 1).any():
        twice = sorted(counts.index[counts > 1])
        raise DataError(
            f"subject(s) {', '.join(twice[:5])} in more than one training clip table of the same loader: the same videos under two roots?"
        )
    return pd.concat(out, ignore_index=True)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.clips", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, type=existing_file)
    parser.add_argument("--markers", required=True, help="folder holding the markers {subject}/{video}.json")
    parser.add_argument("--settings", required=True, help="JSON: the preprocess settings the markers' stores and flows were made with")
    parser.add_argument("--sampling", default='{"frames": 8}', help="JSON: Sampling fields")
    parser.add_argument("--out", required=True)
    parser.add_argument("--skipped", required=True)
    args = parser.parse_args(argv)
    sampling = Sampling.from_dict(json_argument(args.sampling, "--sampling"))
    settings = PreprocessSettings.from_dict(json_argument(args.settings, "--settings"))
    videos = pd.read_parquet(args.videos)
    clips, skipped = build_clip_index(videos, markers_in(args.markers), Preparation(settings, sampling))
    skipped = pd.concat([data_skipped(videos), skipped], ignore_index=True) if videos.attrs.get("skipped") else skipped
    write_csv(skipped, args.skipped)
    if clips.empty:
        raise MolError(f"no clips: all {len(videos)} videos were skipped (see {args.skipped})")
    write_parquet(clips, args.out)
    per_video = clips.groupby(["subject", "video"]).size()
    print(
        f"{len(clips)} clips of t={sampling.frames} from {len(per_video)} videos "
        f"({np.mean(per_video):.1f} per video); {len(skipped)} video(s) skipped -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
