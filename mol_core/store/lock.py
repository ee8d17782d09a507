"""An exclusive lock on a cache entry, so concurrent jobs (other workflows sharing the cache,
cluster jobs) never build the same store at once. A job that waits says so: a line naming
the lock file every ``report_every`` seconds, and it gives up after ``timeout`` seconds if
one is set (a lock held by a hung process would otherwise keep it waiting silently)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path

from ..errors import MolError

REPORT_EVERY = 60.0  # seconds between the lines a waiting job writes
TIMEOUT_VARIABLE = "MOL_LOCK_TIMEOUT"  # seconds a job waits at most (the workflow's `lock_timeout`)


class LockTimeout(MolError):
    """A cache entry stayed locked by another process for longer than the timeout."""


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def timeout_from_environment() -> float | None:
    """Seconds from ``$MOL_LOCK_TIMEOUT`` (unset, empty or 0: None, no limit)."""
    value = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise MolError(f"{TIMEOUT_VARIABLE}={value!r} is not a number of seconds") from None
    return seconds if seconds > 0 else None


@contextlib.contextmanager
def entry_lock(path: str | Path, timeout: float | None = None, report_every: float = REPORT_EVERY, log=None):
    """Hold an exclusive ``flock`` on ``<path>.lock`` (created if needed) for the block.
    While another process holds it, write ``log`` lines (default: standard error) naming the
    lock file every ``report_every`` seconds; raise LockTimeout after ``timeout`` seconds
    (None: ``$MOL_LOCK_TIMEOUT`` if set, else wait as long as it takes)."""
    timeout = timeout_from_environment() if timeout is None else timeout
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started = time.monotonic()
        next_report = started + report_every
        while not _try_lock(fd):
            now = time.monotonic()
            waited = now - started
            if timeout is not None and waited >= timeout:
                raise LockTimeout(
                    f"{lock}: still locked by another process after {waited:.0f} s (timeout {timeout:g} s); "
                    "if no job is building this entry, a hung one holds it: end it"
                )
            if now >= next_report:
                log(f"waiting for {lock} (locked by another process) for {waited:.0f} s")
                next_report = now + report_every
            pause = min(0.5, report_every / 4)
            time.sleep(pause if timeout is None else min(pause, max(timeout - waited, 0.01)))
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
