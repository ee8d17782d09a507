"""Per-video Zarr v3 stores: the cache of aligned frames, landmarks and flow.

Layout (``design.md``)::

    frames          uint8   [T,144,144]     aligned grey frames, one chunk per frame
    landmarks       float32 [T,68,2]        dlib 68 points, x,y in crop pixels
    flow/<name>     float16 [P,2,144,144]   TV-L1 flow (x, y; pixels) for the pairs below
    pairs/<name>    int32   [P,2]           frame indices of each flow pair

A store is written in two steps. :func:`write_store` writes frames and landmarks with the
attributes ``source`` (dataset, subject, video, onset, apex, offset, frame files),
``fingerprint`` (:func:`mol_core.store.keys.source_fingerprint` of those sources),
``align`` (``preprocess.align``), the frame -> crop similarities (``transforms`` [T,2,3], one
per frame, or for a per-video alignment and stores of earlier versions one ``transform``
[2,3]; :func:`stored_transforms` reads both), ``params``, ``version``, ``chunks`` (the size and
BLAKE2b digest of every chunk file) and ``complete`` (written last), under a temporary name
renamed when done. :func:`add_flow` adds one ``flow/<name>`` + ``pairs/<name>`` (``<name>``
names the clip sampling and the flow parameters), each written under a temporary name and
renamed, the flow last and marked ``complete``; several flows can live in one store, added
by concurrent jobs. A video that could not be processed gets a store with ``skipped`` (the
reason) and no arrays. A store or flow without its completion mark (a killed job) is never
read: :func:`open_store` and :func:`has_flow` refuse it, and the next run rebuilds it.

A store counts as complete only when its mark is there *and* every chunk file its manifest
lists is present with its recorded size (a cheap check, done on every open);
:func:`store_problem` with ``full=True`` also compares each chunk's digest and decodes every
array (``python -m mol_core.preprocess verify``). A deleted or truncated chunk therefore
makes the store (or the flow) invalid, and the next preprocessing run rebuilds it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
from zarr.storage import LocalStore

if TYPE_CHECKING:
    from zarr.core.array_spec import ArrayConfigParams

from .. import __version__
from ..errors import DataError
from ..util.atomic import atomic_path

ALL_CHUNKS: ArrayConfigParams = {"write_empty_chunks": True}  # every chunk is a file, so a missing one is noticed


def chunk_manifest(array_dir: str | Path) -> dict[str, list]:
    """{chunk file (relative to the array): [size in bytes, BLAKE2b-64 hex digest]}."""
    array_dir = Path(array_dir)
    manifest = {}
    for chunk in sorted((array_dir / "c").rglob("*")) if (array_dir / "c").is_dir() else []:
        if chunk.is_file():
            data = chunk.read_bytes()
            manifest[chunk.relative_to(array_dir).as_posix()] = [len(data), hashlib.blake2b(data, digest_size=8).hexdigest()]
    return manifest


def manifest_problem(array_dir: str | Path, manifest: dict | None, full: bool = False) -> str | None:
    """What is wrong with an array's chunk files against its manifest (sizes; digests too
    with ``full``), or None."""
    array_dir = Path(array_dir)
    if not manifest:
        return f"{array_dir}: no chunk manifest (made by an older version)"
    for name, (size, digest) in manifest.items():
        chunk = array_dir / name
        try:
            actual = chunk.stat().st_size
        except OSError:
            return f"{chunk}: chunk file missing"
        if actual != size:
            return f"{chunk}: chunk file has {actual} bytes, {size} were written"
        if full and hashlib.blake2b(chunk.read_bytes(), digest_size=8).hexdigest() != digest:
            return f"{chunk}: chunk file changed since it was written"
    return None


class _WriteStore(LocalStore):
    """A local Zarr store that counts the writes in flight and refuses new ones once
    :meth:`stop` is called. Zarr writes an array's chunks concurrently in its own event
    loop; when one write fails (a full disk), the call raises while the others still run, and
    a late one would make its folders again after the temporary folder was deleted."""

    def __init__(self, root: str | Path, **options):
        super().__init__(root, **options)
        self._guard = threading.Lock()
        self._stopped = False
        self._in_flight = 0

    async def set(self, key: str, value) -> None:
        with self._guard:
            if self._stopped:
                raise OSError(errno.ECANCELED, "an earlier write of this store failed", key)
            self._in_flight += 1
        try:
            await super().set(key, value)
        finally:
            with self._guard:
                self._in_flight -= 1

    def stop(self, patience: float = 60.0) -> None:
        """Refuse new writes and wait (at most ``patience`` seconds) for those in flight."""
        with self._guard:
            self._stopped = True
        deadline = time.monotonic() + patience
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)


@contextlib.contextmanager
def _zarr_writing(tmp: Path):
    """A :class:`_WriteStore` at ``tmp``; on an exception its writes in flight end before the
    exception goes on (so :func:`~mol_core.util.atomic.atomic_path` deletes a folder no write
    will make again)."""
    store = _WriteStore(tmp)
    try:
        yield store
    except BaseException:
        store.stop()
        raise


def write_store(path: str | Path, frames: np.ndarray, landmarks: np.ndarray, attrs: dict) -> None:
    """Write the frames and landmarks of a store atomically (flows come with :func:`add_flow`)."""
    with atomic_path(path) as tmp, _zarr_writing(tmp) as store:
        root = zarr.open_group(store, mode="w", zarr_format=3)
        t, h, w = frames.shape
        root.create_array("frames", data=np.asarray(frames, np.uint8), chunks=(1, h, w), config=ALL_CHUNKS)
        root.create_array("landmarks", data=np.asarray(landmarks, np.float32), chunks=(t, 68, 2), config=ALL_CHUNKS)
        root.create_group("flow")
        root.create_group("pairs")
        root.attrs.update(
            {**attrs, "version": __version__, "chunks": {name: chunk_manifest(Path(tmp) / name) for name in ("frames", "landmarks")}}
        )
        root.attrs["complete"] = True


def write_skipped(path: str | Path, reason: str, attrs: dict) -> None:
    """A store that records why a video was skipped (no arrays)."""
    with atomic_path(path) as tmp, _zarr_writing(tmp) as store:
        root = zarr.open_group(store, mode="w", zarr_format=3)
        root.attrs.update({**attrs, "version": __version__, "skipped": reason})


def _write_array(path: Path, data: np.ndarray, chunks: tuple, attrs: dict) -> dict:
    """One array written at a temporary name beside ``path`` and renamed onto it; ``attrs``
    gain ``chunks`` (its manifest). Returns the manifest."""
    with atomic_path(path) as tmp, _zarr_writing(tmp) as store:
        array = zarr.create_array(store=store, data=data, chunks=chunks, zarr_format=3, config=ALL_CHUNKS)
        manifest = chunk_manifest(tmp)
        array.attrs.update({**attrs, "chunks": manifest})
    return manifest


def add_flow(path: str | Path, name: str, pairs: np.ndarray, flow: np.ndarray, attrs: dict, dtype: str = "float16") -> None:
    """Add ``pairs/<name>`` int32 [P,2] and ``flow/<name>`` [P,2,H,W] to a complete store."""
    path = Path(path)
    open_store(path)  # refuses a skipped or partial store
    pairs = np.asarray(pairs, np.int32).reshape(-1, 2)
    h, w = flow.shape[-2:]
    flow = np.asarray(flow, dtype).reshape(-1, 2, h, w)
    pairs_manifest = _write_array(path / "pairs" / name, pairs, (max(len(pairs), 1), 2), {})
    _write_array(path / "flow" / name, flow, (1, 2, h, w), {**attrs, "pairs_chunks": pairs_manifest, "version": __version__, "complete": True})


def flow_problem(path: str | Path, name: str, full: bool = False) -> str | None:
    """What keeps ``flow/<name>`` of a store from being used (absent, unmarked, a chunk of it
    or of its pairs missing or truncated; with ``full`` also changed or undecodable), or None."""
    path = Path(path)
    flow_dir, pairs_dir = path / "flow" / name, path / "pairs" / name
    if not (pairs_dir / "zarr.json").is_file():
        return f"{path}: no flow {name}"
    try:
        array = zarr.open_array(str(flow_dir), mode="r")
        attrs: dict[str, Any] = dict(array.attrs)  # as this package wrote them
    except Exception as error:  # noqa: BLE001 - absent or unreadable: not there
        return f"{flow_dir}: not a readable flow ({error.__class__.__name__})"
    if attrs.get("complete") is not True:
        return f"{flow_dir}: incomplete flow (no completion marker)"
    problem = manifest_problem(flow_dir, attrs.get("chunks"), full) or manifest_problem(pairs_dir, attrs.get("pairs_chunks"), full)
    if problem or not full:
        return problem
    return _decode_problem(flow_dir, lambda: (array[:], zarr.open_array(str(pairs_dir), mode="r")[:]))


def has_flow(path: str | Path, name: str) -> bool:
    """Whether a store holds a complete ``flow/<name>`` with its pairs, every chunk present."""
    return flow_problem(path, name) is None


def _decode_problem(where: Path, read) -> str | None:
    try:
        read()
    except Exception as error:  # noqa: BLE001 - any decoding failure is the store's problem
        return f"{where}: cannot be read back ({error.__class__.__name__}: {error})"
    return None


def _read_array(group: zarr.Group, name: str) -> np.ndarray:
    array = group[name]
    if not isinstance(array, zarr.Array):
        raise TypeError(f"{name} is a group, not an array")
    return np.asarray(array[:])


def store_status(path: str | Path, full: bool = False) -> tuple[str, str]:
    """("complete" | "skipped" | "invalid", detail). Complete: marked so, and every chunk of
    frames and landmarks present at its recorded size (``full``: also unchanged and
    decodable)."""
    path = Path(path)
    try:
        group = zarr.open_group(str(path), mode="r")
        attrs: dict[str, Any] = dict(group.attrs)  # as this package wrote them
    except Exception as error:  # noqa: BLE001 - any failure means the store cannot be trusted
        why = "absent" if not path.exists() else f"not a readable Zarr store ({error.__class__.__name__})"
        return "invalid", f"{path}: {why}"
    if attrs.get("skipped"):
        return "skipped", str(attrs["skipped"])
    if attrs.get("complete") is not True:
        return "invalid", f"{path}: incomplete store (no completion marker)"
    manifests = attrs.get("chunks") or {}
    for name in ("frames", "landmarks"):
        problem = manifest_problem(path / name, manifests.get(name), full)
        if problem is None and full:
            problem = _decode_problem(path / name, functools.partial(_read_array, group, name))
        if problem:
            return "invalid", f"damaged store: {problem}"
    return "complete", ""


def store_problem(path: str | Path, full: bool = False) -> str | None:
    """Everything that keeps a store from being trusted, or None: :func:`store_status` and
    each flow's :func:`flow_problem`. A skipped store has no arrays and no problem."""
    status, detail = store_status(path, full)
    if status == "invalid":
        return detail
    if status == "skipped":
        return None
    names = {p.name for folder in ("flow", "pairs") for p in (Path(path) / folder).iterdir() if p.is_dir() and not p.name.startswith(".")}
    for name in sorted(names):  # a pairs array without its flow: a write that failed half-way (a full disk)
        problem = flow_problem(path, name, full)
        if problem:
            return f"damaged flow: {problem}"
    return None


def open_store(path: str | Path):
    """Open a complete store for reading; raise DataError for a skipped or partial one."""
    status, detail = store_status(path)
    if status != "complete":
        raise DataError(detail if status == "invalid" else f"{path}: video was skipped: {detail}")
    return zarr.open_group(str(path), mode="r")


def stored_transforms(attrs, n_frames: int) -> np.ndarray:
    """A store's per-frame transforms [T,2,3] from its attrs: ``transforms`` (per-frame
    alignments) or the one ``transform`` of a per-video alignment, repeated."""
    if attrs.get("transforms") is not None:
        transforms = np.asarray(attrs["transforms"], dtype=np.float64)
    else:
        transforms = np.repeat(np.asarray(attrs["transform"], dtype=np.float64)[None], n_frames, axis=0)
    if transforms.shape != (n_frames, 2, 3):
        raise ValueError(f"store transforms have shape {transforms.shape}, expected ({n_frames}, 2, 3)")
    return transforms


def content_digest(path: str | Path, flow: str) -> str:
    """A short digest of what a clip of this store reads: the chunk manifests (each chunk
    file's size and BLAKE2b digest) of its frames, landmarks, ``flow/<flow>`` and its pairs.
    A store rebuilt with other frames gets another digest, one rebuilt identically the same;
    the clip index carries it so that training follows content, not timestamps."""
    group = zarr.open_group(str(path), mode="r")
    flow_attrs = dict(zarr.open_array(str(Path(path) / "flow" / flow), mode="r").attrs)
    manifests = {"store": group.attrs.get("chunks"), "flow": flow_attrs.get("chunks"), "pairs": flow_attrs.get("pairs_chunks")}
    text = json.dumps(manifests, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
