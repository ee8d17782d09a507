"""Per-video Zarr v3 stores: the cache of aligned frames, landmarks and flow.

Layout (``design.md``)::

    frames          uint8   [T,144,144]     aligned grey frames, one chunk per frame
    landmarks       float32 [T,68,2]        dlib 68 points, x,y in crop pixels
    flow/<name>     float16 [P,2,144,144]   TV-L1 flow (x, y; pixels) for the pairs below
    pairs/<name>    int32   [P,2]           frame indices of each flow pair

A store is written in two steps. :func:`write_store` writes frames and landmarks with the
attributes ``source`` (dataset, subject, video, frame files), ``transform`` (2x3, image ->
crop), ``params``, ``version`` and ``complete`` (written last), under a temporary name
renamed when done. :func:`add_flow` adds one ``flow/<name>`` + ``pairs/<name>`` (``<name>``
names the clip sampling and the flow parameters), each written under a temporary name and
renamed, the flow last and marked ``complete``; several flows can live in one store, added
by concurrent jobs. A video that could not be processed gets a store with ``skipped`` (the
reason) and no arrays. A store or flow without its completion mark (a killed job) is never
read: :func:`open_store` and :func:`has_flow` refuse it, and the next run rebuilds it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import zarr

from .. import __version__
from ..errors import DataError
from ..util.atomic import atomic_path, remove_path, temporary_sibling


def write_store(path: str | Path, frames: np.ndarray, landmarks: np.ndarray, attrs: dict) -> None:
    """Write the frames and landmarks of a store atomically (flows come with :func:`add_flow`)."""
    with atomic_path(path) as tmp:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        t, h, w = frames.shape
        root.create_array("frames", data=np.asarray(frames, np.uint8), chunks=(1, h, w))
        root.create_array("landmarks", data=np.asarray(landmarks, np.float32), chunks=(t, 68, 2))
        root.create_group("flow")
        root.create_group("pairs")
        root.attrs.update({**attrs, "version": __version__})
        root.attrs["complete"] = True


def write_skipped(path: str | Path, reason: str, attrs: dict) -> None:
    """A store that records why a video was skipped (no arrays)."""
    with atomic_path(path) as tmp:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        root.attrs.update({**attrs, "version": __version__, "skipped": reason})


def _write_array(path: Path, data: np.ndarray, chunks: tuple, attrs: dict) -> None:
    """One array written at a temporary name beside ``path`` and renamed onto it."""
    tmp = temporary_sibling(path)
    try:
        array = zarr.create_array(store=str(tmp), data=data, chunks=chunks, zarr_format=3)
        array.attrs.update(attrs)
        remove_path(path)
        os.replace(tmp, path)
    finally:
        remove_path(tmp)


def add_flow(path: str | Path, name: str, pairs: np.ndarray, flow: np.ndarray, attrs: dict, dtype: str = "float16") -> None:
    """Add ``pairs/<name>`` int32 [P,2] and ``flow/<name>`` [P,2,H,W] to a complete store."""
    path = Path(path)
    open_store(path)  # refuses a skipped or partial store
    pairs = np.asarray(pairs, np.int32).reshape(-1, 2)
    h, w = flow.shape[-2:]
    flow = np.asarray(flow, dtype).reshape(-1, 2, h, w)
    _write_array(path / "pairs" / name, pairs, (max(len(pairs), 1), 2), {})
    _write_array(path / "flow" / name, flow, (1, 2, h, w), {**attrs, "version": __version__, "complete": True})


def has_flow(path: str | Path, name: str) -> bool:
    """Whether a store holds a complete ``flow/<name>`` with its pairs."""
    path = Path(path)
    if not (path / "pairs" / name / "zarr.json").is_file():
        return False
    try:
        return zarr.open_array(str(path / "flow" / name), mode="r").attrs.get("complete") is True
    except Exception:  # noqa: BLE001 - absent or unreadable: not there
        return False


def store_status(path: str | Path) -> tuple[str, str]:
    """("complete" | "skipped" | "invalid", detail) without reading arrays."""
    path = Path(path)
    try:
        attrs = dict(zarr.open_group(str(path), mode="r").attrs)
    except Exception as error:  # noqa: BLE001 - any failure means the store cannot be trusted
        return "invalid", f"{path}: not a readable Zarr store ({error.__class__.__name__})"
    if attrs.get("skipped"):
        return "skipped", str(attrs["skipped"])
    if attrs.get("complete") is True:
        return "complete", ""
    return "invalid", f"{path}: incomplete store (no completion marker)"


def open_store(path: str | Path):
    """Open a complete store for reading; raise DataError for a skipped or partial one."""
    status, detail = store_status(path)
    if status != "complete":
        raise DataError(detail if status == "invalid" else f"{path}: video was skipped: {detail}")
    return zarr.open_group(str(path), mode="r")
