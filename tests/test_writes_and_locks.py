"""What a failed write or a held lock leaves behind and says (issue 15, item 8): a full disk
leaves no temporary behind, and a job waiting for a cache entry says what it waits for."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zarr.storage._local as zarr_local

from mol_core.store.lock import LockTimeout, entry_lock
from mol_core.store.zarr_store import add_flow, open_store, store_problem, write_store
from mol_core.util.atomic import atomic_path, write_text
from mol_core.util.text import counted, number_range

DISK_FULL = OSError(errno.ENOSPC, "No space left on device")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_full_disk_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full(self, text):
        self.open("w").write(text[:3])
        raise DISK_FULL

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError) as raised:
        write_text(tmp_path / "out" / "a.json", "{}" * 100)
    assert raised.value.errno == errno.ENOSPC
    assert leftovers(tmp_path / "out") == []


def test_a_writer_still_finishing_after_the_error_leaves_nothing(tmp_path):
    """Another thread of the failed write adds a file after the exception: deleted too, and
    the exception raised is the writer's, not the cleanup's ("Directory not empty")."""

    def late_write(folder: Path):
        time.sleep(0.05)
        (folder / "c" / "9").mkdir(parents=True, exist_ok=True)
        (folder / "c" / "9" / "0").write_bytes(b"x")

    with pytest.raises(OSError) as raised, atomic_path(tmp_path / "store.zarr") as tmp:
        (tmp / "c" / "1").mkdir(parents=True)
        threading.Thread(target=late_write, args=(tmp,)).start()
        raise DISK_FULL
    assert raised.value.errno == errno.ENOSPC
    time.sleep(0.2)
    assert leftovers(tmp_path) == []


@pytest.fixture
def disk_full_at(monkeypatch):
    """Zarr's chunk writes fail for paths containing a marker; the others take a while (so
    they are still in flight when the failure is raised)."""
    put = zarr_local._put

    def arm(marker: str):
        def failing_put(path, value, exclusive=False):
            if marker in str(path):
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            time.sleep(0.02)
            return put(path, value, exclusive)

        monkeypatch.setattr(zarr_local, "_put", failing_put)

    return arm


def test_a_full_disk_while_writing_a_store_leaves_no_hidden_folder(tmp_path, disk_full_at):
    disk_full_at("frames/c/3/")
    frames, landmarks = np.zeros((30, 32, 32), np.uint8), np.zeros((30, 68, 2), np.float32)
    with pytest.raises(OSError) as raised:
        write_store(tmp_path / "s" / "v.zarr", frames, landmarks, {})
    assert raised.value.errno == errno.ENOSPC  # the writer's error, not the cleanup's
    time.sleep(0.3)
    assert leftovers(tmp_path / "s") == []


def test_a_full_disk_while_adding_a_flow_leaves_the_store_as_it_was(tmp_path, disk_full_at):
    store = tmp_path / "v.zarr"
    write_store(store, np.zeros((6, 16, 16), np.uint8), np.zeros((6, 68, 2), np.float32), {})
    disk_full_at("flow/.u_t2-00000000.tmp")
    with pytest.raises(OSError) as raised:
        add_flow(store, "u_t2-00000000", np.array([[0, 1], [1, 2], [2, 3]]), np.zeros((3, 2, 16, 16)), {})
    assert raised.value.errno == errno.ENOSPC
    time.sleep(0.3)
    assert leftovers(store / "flow") == ["zarr.json"]  # the group's own metadata, as write_store made it
    assert leftovers(store / "pairs") == ["u_t2-00000000", "zarr.json"]
    open_store(store)  # still a complete store...
    assert "damaged flow" in store_problem(store, full=True) and "u_t2-00000000" in store_problem(store)  # ...with a half-written flow


def dead_pid() -> int:
    """The pid of a process of this host that has ended."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_killed_writers_are_removed_by_the_next_writer_and_verify(tmp_path, capsys):
    from mol_core.preprocess.__main__ import main as preprocess_main
    from mol_core.util.atomic import HOST, dead_temporaries

    store = tmp_path / "cache" / "v.zarr"
    write_store(store, np.zeros((4, 16, 16), np.uint8), np.zeros((4, 68, 2), np.float32), {})
    dead = tmp_path / "cache" / f".v.zarr.tmp-{HOST}-{dead_pid()}-0123abcd"
    alive = tmp_path / "cache" / f".v.zarr.tmp-{HOST}-{os.getpid()}-0123abcd"
    elsewhere = tmp_path / "cache" / f".v.zarr.tmp-another_node-{dead_pid()}-0123abcd"
    other_name = tmp_path / "cache" / f".w.zarr.tmp-{HOST}-{dead_pid()}-0123abcd"
    for folder in (dead, alive, elsewhere, other_name):
        (folder / "frames").mkdir(parents=True)
    assert dead_temporaries(tmp_path / "cache") == sorted([dead, other_name])
    assert preprocess_main(["verify", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert f"{dead}: a temporary its writer (a process of this host, no longer running) left" in out
    assert "1 stores checked, 0 damaged; 2 leftover temporaries" in out and str(alive) not in out
    write_store(store, np.zeros((4, 16, 16), np.uint8), np.zeros((4, 68, 2), np.float32), {})  # the next writer of v.zarr
    assert not dead.exists() and alive.exists() and elsewhere.exists() and other_name.exists()
    assert preprocess_main(["verify", str(tmp_path / "cache"), "--remove"]) == 0
    assert not other_name.exists() and alive.exists() and "1 leftover temporaries removed" in capsys.readouterr().out


def hold(lock_of: Path):
    """Another open file description holding the lock (as another process would)."""
    import fcntl

    fd = os.open(f"{lock_of}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_job_waiting_for_a_lock_says_so_and_gives_up_after_the_timeout(tmp_path):
    entry = tmp_path / "v.zarr"
    fd = hold(entry)
    lines = []
    try:
        message = rf"{entry}.lock: still locked by another process after \d+ s \(timeout 0.5 s\)"
        with pytest.raises(LockTimeout, match=message), entry_lock(entry, timeout=0.5, report_every=0.1, log=lines.append):
            pass
    finally:
        os.close(fd)
    assert len(lines) >= 2 and all(f"waiting for {entry}.lock (locked by another process)" in line for line in lines)
    with entry_lock(entry, timeout=0.5):  # free again
        pass


def test_the_lock_timeout_comes_from_the_environment(tmp_path, monkeypatch):
    entry = tmp_path / "v.zarr"
    monkeypatch.setenv("MOL_LOCK_TIMEOUT", "0.3")
    fd = hold(entry)
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeout), entry_lock(entry, log=lambda line: None):
            pass
        assert time.monotonic() - started < 5
    finally:
        os.close(fd)


def test_a_waiting_job_gets_the_lock_when_it_is_released(tmp_path):
    entry = tmp_path / "v.zarr"
    fd = hold(entry)
    threading.Timer(0.3, os.close, [fd]).start()
    with entry_lock(entry, timeout=10, report_every=0.1, log=lambda line: None):
        pass


def test_counts_and_ranges_in_messages():
    assert [counted(n, "subject") for n in (0, 1, 2)] == ["0 subjects", "1 subject", "2 subjects"]
    assert counted(1, "class", "classes") == "1 class" and counted(3, "class", "classes") == "3 classes"
    assert number_range([30]) == "frame 30" and number_range([3, 5, 7]) == "frames 3..7"


def test_a_full_disk_ends_a_command_in_one_error_line_naming_the_path(tmp_path, disk_full_at, capsys):
    from mol_core.util.cli import run_cli

    disk_full_at("frames/c/3/")

    def preprocessing(argv):
        write_store(tmp_path / "s" / "v.zarr", np.zeros((30, 32, 32), np.uint8), np.zeros((30, 68, 2), np.float32), {})

    assert run_cli(preprocessing, []) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "frames/c/3/" in err and "the disk is full; free space and run again" in err
    time.sleep(0.3)
    assert leftovers(tmp_path / "s") == []

    def missing(argv):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "x")

    with pytest.raises(FileNotFoundError):  # not the storage's failure: a traceback, as any bug
        run_cli(missing, [])
