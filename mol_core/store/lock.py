"""An exclusive lock on a cache entry, so concurrent jobs (other workflows sharing the cache,
cluster jobs) never build the same store at once."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


@contextlib.contextmanager
def entry_lock(path: str | Path):
    """Hold an exclusive ``flock`` on ``<path>.lock`` (created if needed) for the block."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
