"""Per-video Zarr v3 stores: the cache of aligned frames, landmarks and flow.

Layout (``design.md``)::

    frames          uint8   [T,144,144]     aligned grey frames, one chunk per frame
    landmarks       float32 [T,68,2]        dlib 68 points, x,y in crop pixels
    flow/<name>     float16 [P,2,144,144]   TV-L1 flow (x, y; pixels) for the pairs below
    pairs/<name>    int32   [P,2]           frame indices of each flow pair

Attributes: ``source`` (dataset, subject, video, frame files), ``transform`` (2x3, image ->
crop), ``params``, ``version`` and ``complete`` (written last). A video that could not be
processed gets a store with ``skipped`` (the reason) and no arrays. A store without
``complete`` or ``skipped`` (a killed job) is never read: :func:`open_store` refuses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from .. import __version__
from ..atomic import atomic_path
from ..errors import DataError


def write_store(
    path: str | Path,
    frames: np.ndarray,
    landmarks: np.ndarray,
    flows: dict[str, tuple[np.ndarray, np.ndarray]],
    attrs: dict,
    flow_dtype: str = "float16",
) -> None:
    """Write a complete store atomically. ``flows``: {name: (pairs int [P,2], flow [P,2,H,W])}."""
    with atomic_path(path) as tmp:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        t, h, w = frames.shape
        root.create_array("frames", data=np.asarray(frames, np.uint8), chunks=(1, h, w))
        root.create_array("landmarks", data=np.asarray(landmarks, np.float32), chunks=(t, 68, 2))
        for name, (pairs, flow) in flows.items():
            p = max(len(pairs), 1)
            root.create_array(f"pairs/{name}", data=np.asarray(pairs, np.int32).reshape(-1, 2), chunks=(p, 2))
            root.create_array(f"flow/{name}", data=np.asarray(flow, flow_dtype).reshape(-1, 2, h, w), chunks=(1, 2, h, w))
        root.attrs.update({**attrs, "version": __version__})
        root.attrs["complete"] = True


def write_skipped(path: str | Path, reason: str, attrs: dict) -> None:
    """A store that records why a video was skipped (no arrays)."""
    with atomic_path(path) as tmp:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        root.attrs.update({**attrs, "version": __version__, "skipped": reason})


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
