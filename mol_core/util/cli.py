"""One way for every ``python -m mol_core.<stage>`` command to end: a problem with the
user's input or settings (:class:`~mol_core.errors.MolError`) or of the machine's storage (a
full disk, an exceeded quota, a read-only file system: :data:`STORAGE_ERRORS`) is printed as
``error: <message>`` on standard error with exit status 1; anything else is a bug and keeps
its traceback."""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..errors import ConfigError, MolError

# The storage's own failures: nothing in the code to fix, so one line naming the path.
STORAGE_ERRORS = {
    errno.ENOSPC: "the disk is full; free space and run again (nothing half-written is kept)",
    errno.EDQUOT: "the disk quota is exceeded; free space and run again (nothing half-written is kept)",
    errno.EROFS: "the file system is read-only; give the outputs (or cache_dir) a writable place",
}


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """``main(argv)``'s exit status (None counts as 0); 1 after printing ``error: <message>``
    when it raises a MolError or a storage failure (:data:`STORAGE_ERRORS`). Other exceptions
    (TypeError, KeyError, ...) propagate."""
    try:
        return main(argv) or 0
    except MolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if error.errno not in STORAGE_ERRORS:
            raise
        where = error.filename or "a file being written"
        print(f"error: {where}: {STORAGE_ERRORS[error.errno]}", file=sys.stderr)
        return 1


class Command(Protocol):
    """A command's ``main``: ``argv`` defaults to the process's arguments."""

    def __call__(self, argv: list[str] | None = None) -> int: ...


def command(main: Callable[[list[str] | None], int | None]) -> Command:
    """Decorator: ``main`` run by :func:`run_cli`."""

    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None) -> int:
        return run_cli(main, argv)

    return wrapped


@contextlib.contextmanager
def error_context(prefix: str):
    """MolErrors raised inside get ``prefix: `` before their message (e.g. the fold or the
    video a job works on), keeping their type."""
    try:
        yield
    except MolError as error:
        raise type(error)(f"{prefix}: {error}") from error


def json_argument(text: str, option: str):
    """The value of a JSON command-line argument; ConfigError naming the option."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{option} is not valid JSON ({error}): {text[:200]}") from None


def existing_file(text: str) -> str:
    """argparse ``type`` of an input file: a missing one is a usage error naming it."""
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text
