"""Write-then-rename helpers, so that a killed job never leaves a file that a rerun trusts."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import time
import uuid
from pathlib import Path

HOST = socket.gethostname().replace("-", "_")  # a writer's host, in its temporaries' names


def temporary_sibling(path: str | os.PathLike) -> Path:
    """A unique, hidden name in the same folder as ``path`` (same filesystem, so rename is
    atomic): ``.{name}.tmp-{host}-{pid}-{random}``, so a later writer can tell whether the
    one that made it is still alive (:func:`dead_temporaries`)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def dead_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Temporaries in ``folder`` (of the target ``name`` only, when given) whose writer was
    a process of this host that no longer runs: what a killed job left. Those of other hosts
    (a cluster's shared cache) are never taken for dead."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    prefix = f".{name}.tmp-" if name else "."
    out = []
    for entry in folder.iterdir():
        head, sep, tail = entry.name.rpartition(".tmp-")
        if not sep or not entry.name.startswith(prefix) or not head.startswith("."):
            continue
        parts = tail.split("-")
        if len(parts) == 3 and parts[0] == HOST and parts[1].isdigit() and not _alive(int(parts[1])):
            out.append(entry)
    return sorted(out)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path; on success move it to ``path`` (file or folder). On any
    exception (a full disk, a kill signal turned into an exception) the temporary is deleted
    (:func:`discard`) and the exception goes on unchanged."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in dead_temporaries(path.parent, path.name):  # a killed writer's
        discard(leftover, settle=0.0, patience=1.0)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        remove_path(path)
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def discard(path: str | os.PathLike, settle: float = 0.2, patience: float = 10.0) -> bool:
    """Delete what a failed writer left at ``path``, never raising. Writers still finishing
    (another thread or process of the same write) may add files while it goes, so it is
    deleted again until it stays gone for ``settle`` seconds, for at most ``patience``
    seconds; a path that remains is named on standard error. Returns whether it is gone."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            remove_path(path)
        time.sleep(settle if not os.path.lexists(path) else settle / 4)
        if not os.path.lexists(path):
            return True
    print(f"warning: could not delete the temporary {path}", file=sys.stderr)
    return False


def remove_path(path: str | os.PathLike) -> None:
    """Delete a file or a folder tree if it exists."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_parquet(frame, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame to Parquet atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_csv(frame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
