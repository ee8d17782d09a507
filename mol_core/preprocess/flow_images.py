"""Flow images for other repositories: per video, the TV-L1 flow u, v and the optical strain of
the onset->apex and apex->offset pairs of the aligned frames, as PNG and float arrays.

``python -m mol_core.preprocess.flow_images --videos results/{dataset}/videos.parquet
--markers DIR --out results/{dataset}/flow_images_{size} --size 28 [--settings JSON]
[--threads N]`` reads the preprocessing markers ``DIR/{subject}/{video}.json`` (they name
each video's store, see ``python -m mol_core.preprocess``) and writes::

    {out}/{subject}/{video}/onset_apex.png    RGB uint8 [size,size,3]
    {out}/{subject}/{video}/onset_apex.npy    float32 [3,size,size]
    {out}/{subject}/{video}/apex_offset.png
    {out}/{subject}/{video}/apex_offset.npy
    {out}/index.csv                           one row per video (written last)

Channels (both files, in this order): ``u`` (horizontal flow, + = right), ``v`` (vertical
flow, + = down, image axes) and the optical strain magnitude
``sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2)`` with ``e_xx = du/dx``, ``e_yy = dv/dy``,
``e_xy = (du/dy + dv/dx) / 2`` (``np.gradient`` on the 144x144 crop flow). The flow is
computed on the store's aligned 144x144 crops and resized to ``size`` with
``cv2.INTER_AREA``. In the ``.npy``, u and v are pixels of the size x size image (the crop
flow times size/144) and the strain is dimensionless (unchanged by the resize's scaling).
In the PNG, each channel is min-max normalised per image to 0..255
(``round(255 (x - min) / (max - min))``; a constant channel is 0), the convention of
STSTNet / OFF-ApexNet style code; the PNG's R, G, B are u, v, strain.

The onset is the store's first frame and the offset its last. The apex is the annotated one;
a video without an apex (SMIC) uses the middle frame ``(T-1)//2``, and so does a video whose
apex is coded at its onset or offset frame (55 CAS(ME)^3 MEs, CASME II ``sub05/EP09_05f``:
the annotated pair would be a zero flow); the index says which (``apex_source``), and
``python -m mol_core.datasets check`` lists them (flag ``apex_at_onset``). The flow of the
two pairs is kept in the store as ``flow/apex_pairs-<hash of the TV-L1 parameters>``; a
pair that another flow of the store (same parameters) already holds is copied, not
recomputed, and a second run computes nothing.

Index columns: dataset, subject, video, emotion, label, status (complete | skipped), reason,
frames (T), apex (store frame index used), apex_source (annotated | middle frame (no apex) |
middle frame (apex coded at the onset) | middle frame (apex coded at the offset)),
store, flow, files (``;``-separated, relative to ``out``).

``python -m mol_core.preprocess.flow_images sheet DIR... --out PNG``: a contact sheet of the
onset->apex images of a few videos (one per emotion), one column group per folder (size).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..errors import DataError, MolError
from ..store.keys import PreprocessSettings, cache_key
from ..store.lock import entry_lock
from ..store.markers import markers_in
from ..store.zarr_store import add_flow, has_flow, open_store, store_status
from ..util.atomic import atomic_path, write_csv
from .video import compute_flows

PAIRS = ("onset_apex", "apex_offset")
INDEX_COLUMNS = [
    "dataset",
    "subject",
    "video",
    "emotion",
    "label",
    "status",
    "reason",
    "frames",
    "apex",
    "apex_source",
    "store",
    "flow",
    "files",
]
ANNOTATED, MIDDLE = "annotated", "middle frame (no apex)"
AT_ONSET, AT_OFFSET = "middle frame (apex coded at the onset)", "middle frame (apex coded at the offset)"


def apex_pairs_name(settings: PreprocessSettings) -> str:
    """Name of the onset->apex, apex->offset flow in a store: ``apex_pairs-<8 hex>``."""
    return f"apex_pairs-{cache_key(settings.flow_params())[:8]}"


def choose_apex(n_frames: int, apex_index: int | None) -> tuple[int, str]:
    """(apex frame index into the store, how it was chosen): the annotated apex when it lies
    strictly inside the frames, else the middle frame ``(n_frames - 1) // 2`` (an apex at the
    first or last frame would make one of the two pairs a zero flow)."""
    middle = (n_frames - 1) // 2
    if apex_index is None or not 0 <= apex_index < n_frames:
        return middle, MIDDLE
    if apex_index == 0:
        return middle, AT_ONSET
    if apex_index == n_frames - 1:
        return middle, AT_OFFSET
    return int(apex_index), ANNOTATED


def _cached_pairs(path: Path, store, params: dict, skip: str) -> dict[tuple[int, int], tuple[str, int]]:
    """{(a, b): (flow name, row)} of every pair held by a complete flow of the store at
    ``path`` (``store``: it, open) made with ``params`` (TV-L1 parameters and dtype), other
    than the flow ``skip``."""
    found: dict[tuple[int, int], tuple[str, int]] = {}
    for name in sorted(p.name for p in (path / "flow").iterdir() if p.is_dir() and not p.name.startswith(".")):
        if name == skip or not has_flow(path, name) or store[f"flow/{name}"].attrs.get("params") != params:
            continue
        for row, (a, b) in enumerate(store[f"pairs/{name}"][:]):
            found.setdefault((int(a), int(b)), (name, row))
    return found


def holds_pairs(store_path: str | Path, name: str, pairs: list[tuple[int, int]]) -> bool:
    """Whether a store holds a complete ``flow/<name>`` of exactly ``pairs``, in that order."""
    return has_flow(store_path, name) and [tuple(map(int, p)) for p in open_store(store_path)[f"pairs/{name}"][:]] == pairs


@dataclass(frozen=True)
class ApexFlow:
    """The apex flow of one store: its ``flow`` name, ``pairs`` ((onset, apex), (apex,
    offset), store frame indices), the ``apex`` used and where it came from
    (``apex_source``), and what this call did: ``computed`` pairs ran TV-L1, ``copied``
    pairs were taken from other flows of the store (both 0: made before)."""

    flow: str
    pairs: tuple[tuple[int, int], ...]
    apex: int
    apex_source: str
    computed: int = 0
    copied: int = 0


def ensure_apex_flow(store_path: str | Path, settings: PreprocessSettings, apex_index: int | None, threads: int = 1) -> ApexFlow:
    """Make sure a complete store holds the flow of (onset, apex) and (apex, offset) as
    ``flow/<apex_pairs_name>`` (rows in that order; float [2,2,144,144], x then y, pixels).
    Pairs held by another flow of the store with the same parameters are copied; only the
    others run TV-L1."""
    name = apex_pairs_name(settings)
    n_frames = open_store(store_path)["frames"].shape[0]
    apex, source = choose_apex(n_frames, apex_index)
    pairs = [(0, apex), (apex, n_frames - 1)]
    result = ApexFlow(name, tuple(pairs), apex, source)
    if holds_pairs(store_path, name, pairs):
        return result  # made already: read without a lock (a read-only cache serves as it is)
    with entry_lock(f"{store_path}.{name}"):
        if holds_pairs(store_path, name, pairs):  # made by another job while this one waited
            return result
        store = open_store(store_path)
        params = settings.flow_params()
        cached = _cached_pairs(Path(store_path), store, params, name)
        missing = [p for p in pairs if p not in cached]
        computed = dict(zip(missing, compute_flows(store["frames"][:], missing, params["tvl1"], threads), strict=True))
        flows = np.stack([computed[p] if p in computed else store[f"flow/{cached[p][0]}"][cached[p][1]] for p in pairs])
        add_flow(store_path, name, np.array(pairs, np.int32), flows, {"params": params, "sampling": "apex_pairs"}, settings.flow_dtype)
    return replace(result, computed=len(missing), copied=len(pairs) - len(missing))


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Optical strain magnitude [H,W] (dimensionless) of a flow [2,H,W] (u = x, v = y; pixels):
    ``sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2)``, ``e_xx = du/dx``, ``e_yy = dv/dy``,
    ``e_xy = (du/dy + dv/dx) / 2``, derivatives by ``np.gradient`` (central differences,
    one-sided at the border). Zero for a pure translation."""
    u, v = np.asarray(flow, np.float64)
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    e_xy = (du_dy + dv_dx) / 2
    return np.sqrt(du_dx**2 + dv_dy**2 + 2 * e_xy**2)


def flow_features(flow: np.ndarray, size: int) -> np.ndarray:
    """float32 [3,size,size] of a crop flow [2,H,W] (pixels): u and v resized with
    ``cv2.INTER_AREA`` and scaled to pixels of the size x size image (times size/W, size/H),
    and the optical strain (computed at the crop's resolution, then resized)."""
    flow = np.asarray(flow, np.float32)
    h, w = flow.shape[-2:]
    strain = optical_strain(flow).astype(np.float32)
    channels = [flow[0] * (size / w), flow[1] * (size / h), strain]
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in channels]).astype(np.float32)


def minmax_uint8(features: np.ndarray) -> np.ndarray:
    """[C,H,W] float -> uint8 [H,W,C], each channel min-max normalised to 0..255:
    ``round(255 (x - min) / (max - min))``; a constant channel becomes 0."""
    out = []
    for channel in np.asarray(features, np.float64):
        low, span = channel.min(), channel.max() - channel.min()
        out.append(np.zeros(channel.shape) if span == 0 else np.round(255 * (channel - low) / span))
    return np.stack(out, -1).astype(np.uint8)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """RGB uint8 [H,W,3] as a PNG, atomically."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp) + ".png", np.ascontiguousarray(rgb[..., ::-1])):
            raise OSError(f"{path}: could not write the PNG")
        Path(str(tmp) + ".png").rename(tmp)


def write_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def video_flow_images(
    store_path: str | Path, out_dir: str | Path, size: int, settings: PreprocessSettings, apex_index: int | None, threads: int = 1
) -> tuple[ApexFlow, list[Path]]:
    """Ensure the apex flow of one store (:func:`ensure_apex_flow`) and write its
    ``{onset_apex,apex_offset}.{png,npy}`` into ``out_dir``: (the apex flow, the paths written)."""
    if size < 2:
        raise ValueError(f"size must be at least 2 pixels, got {size}")
    made = ensure_apex_flow(store_path, settings, apex_index, threads)
    flows = open_store(store_path)[f"flow/{made.flow}"][:]
    out_dir, files = Path(out_dir), []
    for kind, flow in zip(PAIRS, flows, strict=True):
        features = flow_features(flow, size)
        write_npy(out_dir / f"{kind}.npy", features)
        write_png(out_dir / f"{kind}.png", minmax_uint8(features))
        files += [out_dir / f"{kind}.png", out_dir / f"{kind}.npy"]
    return made, files


def dataset_flow_images(
    videos: pd.DataFrame, marker_of, out: str | Path, size: int, settings: PreprocessSettings, threads: int = 1, log=print
) -> pd.DataFrame:
    """Flow images of every video of a video table (``marker_of(subject, video)`` gives its
    preprocessing :class:`~mol_core.store.markers.Marker`); writes ``{out}/index.csv`` last and
    returns it. A video preprocessing skipped is listed with its reason and no files."""
    out, rows = Path(out), []
    for video in videos.itertuples(index=False):
        marker = marker_of(video.subject, video.video)
        row = {
            "dataset": video.dataset,
            "subject": video.subject,
            "video": video.video,
            "emotion": video.emotion,
            "label": int(video.label),
            "status": "skipped",
            "reason": marker.reason,
            "frames": None,
            "apex": None,
            "apex_source": "",
            "store": marker.store,
            "flow": "",
            "files": "",
        }
        status = store_status(marker.store)[0] if marker.complete else "skipped"
        if status == "invalid":
            raise DataError(f"{marker.store}: store of {video.subject}/{video.video} is absent or damaged; rerun preprocessing")
        if status == "complete":
            apex_index = None if pd.isna(video.apex) else int(video.apex) - int(video.onset)
            made, files = video_flow_images(marker.store, out / str(video.subject) / str(video.video), size, settings, apex_index, threads)
            row.update(
                status="complete",
                reason="",
                frames=open_store(marker.store)["frames"].shape[0],
                apex=made.apex,
                apex_source=made.apex_source,
                flow=made.flow,
                files=";".join(p.relative_to(out).as_posix() for p in files),
            )
            log(f"{video.subject}/{video.video}: apex {made.apex} ({made.apex_source}); {made.computed} pairs computed, {made.copied} copied")
        rows.append(row)
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    write_csv(index, out / "index.csv")
    return index


def _read_bgr(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise DataError(f"{path}: missing or unreadable flow image")
    return np.asarray(image)


def contact_sheet(folders: list[str | Path], out: str | Path, per_emotion: int = 1, tile: int = 72) -> Path:
    """A PNG showing the onset->apex images of the first ``per_emotion`` complete videos of
    each emotion in the first folder's ``index.csv``: one row per video, and for each folder
    (one per size) the RGB PNG and its u, v, strain channels (grey), each upscaled to
    ``tile`` px with nearest-neighbour. Returns ``out``."""
    indexes = [pd.read_csv(Path(f) / "index.csv") for f in folders]
    first = indexes[0][indexes[0].status == "complete"]
    chosen = first.groupby("emotion", sort=False).head(per_emotion)
    header = np.full((22, tile * 4 * len(folders), 3), 255, np.uint8)
    for k, folder in enumerate(folders):
        size = np.load(Path(folder) / chosen.subject.iloc[0] / chosen.video.iloc[0] / "onset_apex.npy").shape[-1]
        for j, label in enumerate(("RGB", "u", "v", "strain")):
            cv2.putText(header, f"{label} {size}px", ((4 * k + j) * tile + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    rows = [header]
    for video in chosen.itertuples():
        tiles: list[np.ndarray] = []
        for folder in folders:
            rgb = _read_bgr(Path(folder) / video.subject / video.video / "onset_apex.png")[..., ::-1]
            for image in [rgb] + [np.repeat(rgb[..., c : c + 1], 3, -1) for c in range(3)]:
                tiles.append(cv2.resize(image, (tile, tile), interpolation=cv2.INTER_NEAREST))
        row = np.concatenate(tiles, 1)
        cv2.putText(row, str(video.emotion), (3, tile - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    sheet = np.concatenate(rows, 0)
    sheet[:, tile * 4 :: tile * 4] = 255  # a white line between the sizes
    write_png(Path(out), sheet)
    return Path(out)


def sheet_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.preprocess.flow_images sheet", description="Contact sheet (PNG) of flow images, one column group per folder."
    )
    parser.add_argument("folders", nargs="+", help="flow image folders (each with index.csv), e.g. one per size")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--per-emotion", type=int, default=1, help="videos per emotion (default 1)")
    args = parser.parse_args(argv)
    try:
        for folder in args.folders:
            if not (Path(folder) / "index.csv").is_file():
                raise DataError(f"{Path(folder) / 'index.csv'}: no flow image index")
        out = contact_sheet(args.folders, args.out, args.per_emotion)
    except (MolError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sheet"]:
        return sheet_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.preprocess.flow_images", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", required=True, help="video table (Parquet) of the dataset")
    parser.add_argument("--markers", required=True, help="folder of the preprocessing markers {subject}/{video}.json")
    parser.add_argument("--out", required=True, help="output folder (index.csv and {subject}/{video}/ in it)")
    parser.add_argument("--size", type=int, default=28, help="side of the images and arrays, pixels (default 28)")
    parser.add_argument("--settings", default="{}", help="JSON: PreprocessSettings fields (the TV-L1 parameters)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    markers = Path(args.markers)
    try:
        if args.size < 2:
            raise MolError(f"--size must be at least 2 pixels, got {args.size}")
        settings = PreprocessSettings.from_dict(json.loads(args.settings))
        if not Path(args.videos).is_file():
            raise DataError(f"{args.videos}: video table not found")
        if not markers.is_dir():
            raise DataError(f"{markers}: marker folder not found")
        videos = pd.read_parquet(args.videos)
        index = dataset_flow_images(videos, markers_in(markers), args.out, args.size, settings, args.threads)
    except (MolError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    done = int((index.status == "complete").sum())
    print(f"{done} videos -> {Path(args.out) / 'index.csv'} ({len(index) - done} skipped, size {args.size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
