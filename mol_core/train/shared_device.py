"""Several LOSO folds trained at once on one device by one job (``train.folds_per_gpu``;
issue 30, item 4).

Snakemake keeps one job per fold, and ``--resources gpu=1`` (SLURM: ``--gpus``) one job per
GPU. With ``folds_per_gpu: k`` the job of fold F also trains up to k-1 *companions*: the next
folds of the experiment's queue (in order, wrapping) that are not trained for their current
settings and that no other job holds. Each fold trains in a process of its own with the
job's threads shared out, so its model and predictions are those it gets alone (given the
same threads per fold; tested bit for bit on the CPU). A companion's outputs wait in its
folder's ``batched/`` with the run identity they were trained for; when Snakemake runs that
fold's own job, the job finds them under its lock and adopts them (a few seconds), or trains
the fold if its settings changed since. Every fold folder keeps ``run_id``: the identity of
the run its outputs belong to.

k is an upper bound: the job first starts its own fold, waits for that fold's memory
report after its first logged steps (:mod:`.device_memory`: its peak on the device and the
device's free memory), and then starts only the companions that fit; the folds it leaves
are unlocked at once for their own jobs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from ..store.lock import LockTimeout, entry_lock
from ..util.atomic import remove_path, write_text
from .device_memory import companions_that_fit, wait_for_report
from .resume import resume_key

if TYPE_CHECKING:
    from .loop import TrainSettings

BATCHED = "batched"  # a companion's outputs, until its own job adopts them
OUTPUTS = ("model.pt", "predictions.parquet", "log.csv")
RUN_ID = "run_id"


@dataclass(frozen=True)
class SharedFolds:
    """What every fold of one job shares: the clip index, class names, settings, model."""

    clips: pd.DataFrame
    class_names: list[str]
    settings: TrainSettings
    model_options: dict
    init: str | None = None


def fold_run_id(shared: SharedFolds, fold: str) -> str:
    """The run identity of ``fold`` (:func:`~.resume.resume_key` of its splits), from the clip
    index alone (no store is read)."""
    from .loop import fold_split

    train, validation, test, _ = fold_split(shared.clips, fold, shared.settings)
    return resume_key(shared.settings, shared.model_options, fold, {"train": train, "validation": validation, "test": test}, shared.init)


def trained_for(folder: Path, run_id: str) -> bool:
    """Whether ``folder`` holds complete outputs of run ``run_id``."""
    marker = folder / RUN_ID
    return marker.is_file() and marker.read_text().strip() == run_id and all((folder / name).is_file() for name in OUTPUTS)


def adopt(folder: Path) -> None:
    """Move a companion's outputs from ``folder/batched`` into ``folder`` (run_id last)."""
    waiting = folder / BATCHED
    for name in OUTPUTS:
        os.replace(waiting / name, folder / name)
    write_text(folder / RUN_ID, (waiting / RUN_ID).read_text())
    remove_path(waiting)


def _train_one(job: dict) -> None:
    """Train one fold into ``job['out']`` in this (spawned) process (its ``run_id`` too)."""
    from .loop import train_fold

    torch.set_num_threads(job["threads"])
    shared: SharedFolds = job["shared"]
    prefix = f"[fold {job['fold']}] " if job["companion"] else ""
    train_fold(
        shared.clips,
        job["fold"],
        job["out"],
        shared.class_names,
        shared.settings,
        shared.model_options,
        log=lambda m: print(prefix + m, flush=True),
        init=shared.init,
        memory_report=job.get("memory_report"),
    )


def companions_of(fold: str, queue: list[str]) -> list[str]:
    """The folds after ``fold`` in ``queue``, wrapping: the candidate companions in order."""
    if fold not in queue:
        return []
    start = queue.index(fold)
    return queue[start + 1 :] + queue[:start]


def train_shared(shared: SharedFolds, fold: str, out: str | Path, queue: list[str], per_device: int, threads: int, log=print) -> None:
    """Train ``fold`` into ``out`` and, beside it, up to ``per_device - 1`` companions from
    ``queue`` into their folders' ``batched/`` (see the module); or adopt ``fold``'s outputs
    if a companion run of another job left them for its current settings."""
    out = Path(out)
    with entry_lock(out / BATCHED, log=log):
        own = fold_run_id(shared, fold)
        if trained_for(out / BATCHED, own):
            adopt(out)
            log(f"fold {fold}: adopted the outputs another job trained for these settings ({out / BATCHED})")
            return
        remove_path(out / BATCHED)
        with contextlib.ExitStack() as held:
            locks: dict[str, contextlib.ExitStack] = {}
            for candidate in companions_of(fold, queue):
                if len(locks) == per_device - 1:
                    break
                folder = out.parent / candidate
                lock = contextlib.ExitStack()
                try:
                    lock.enter_context(entry_lock(folder / BATCHED, timeout=0, log=lambda m: None))
                except LockTimeout:
                    continue  # another job trains or adopts it
                held.callback(lock.close)
                run_id = fold_run_id(shared, candidate)
                if trained_for(folder, run_id) or trained_for(folder / BATCHED, run_id):
                    lock.close()
                    continue
                remove_path(folder / BATCHED)
                locks[candidate] = lock
            _train_together(shared, fold, out, locks, threads, log)


def _train_together(shared: SharedFolds, fold: str, out: Path, locks: dict[str, contextlib.ExitStack], threads: int, log) -> None:
    """Train ``fold`` and then, once it has reported its memory, the companions of ``locks``
    that fit beside it (each in its own process); the others' locks are released."""
    chosen = list(locks)
    each = max(1, threads // (1 + len(chosen)))
    log(f"fold {fold}: training {1 + len(chosen)} fold(s) on one device ({', '.join([fold, *chosen])}), {each} thread(s) each")
    with (
        tempfile.TemporaryDirectory(prefix="mol-folds-") as scratch,
        ProcessPoolExecutor(1 + len(chosen), mp_context=get_context("spawn")) as pool,
    ):
        report_path = Path(scratch) / "memory.json"
        each_job = {"shared": shared, "threads": each}
        lead = pool.submit(
            _train_one, {**each_job, "fold": fold, "out": str(out), "companion": False, "memory_report": report_path if chosen else None}
        )
        started = [lead]
        if chosen:
            report = wait_for_report(report_path, lead)
            fit = companions_that_fit(report, len(chosen))
            if report is not None:
                log(f"fold {fold}: {report.describe()}: {fit} of {len(chosen)} companion(s) fit beside it")
            for companion in chosen[fit:]:
                locks[companion].close()  # its own job trains it
            for companion in chosen[:fit]:
                started.append(
                    pool.submit(_train_one, {**each_job, "fold": companion, "out": str(out.parent / companion / BATCHED), "companion": True})
                )
        for future in started:
            future.result()
