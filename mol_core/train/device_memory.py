"""How much memory one training fold takes on its device, and how many more fit beside it
(``train.folds_per_gpu``: the job starts its companions only once its own fold has measured
this; issue 30, item 4).

A fold's need is measured, not guessed: after its first logged steps (forward, backward,
optimiser state, its arrays on the device) the fold reports its peak and the device's free
memory as :class:`MemoryReport`. On CUDA the peak is the caching allocator's reserved peak
plus :data:`CUDA_CONTEXT_BYTES` for the process's CUDA context (which the allocator does not
see); free is ``torch.cuda.mem_get_info`` (what every process leaves). On the CPU (Linux) the
peak is the process's peak resident size (``VmHWM``) and free is ``MemAvailable``; a CUDA
fold reports the host's too (its videos pass through host memory on their way to the GPU), and
a companion must fit in both.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..util.atomic import write_text

CUDA_CONTEXT_BYTES = 512 * 2**20  # a process's CUDA context and kernels, outside the allocator (an estimate)
HEADROOM = 0.9  # companions may take this share of the free memory (fragmentation, later peaks)
GIB = 2**30


@dataclass(frozen=True)
class MemoryReport:
    """One fold's peak memory on ``device`` (bytes) and the device's free memory (bytes)
    when it was measured, after the fold's first logged steps; for a GPU also the host's
    (``host_*``, 0 where unknown)."""

    device: str
    peak_bytes: int
    free_bytes: int
    host_peak_bytes: int = 0
    host_free_bytes: int = 0

    def describe(self) -> str:
        text = f"a fold takes {self.peak_bytes / GIB:.1f} GiB at its peak on {self.device}, {self.free_bytes / GIB:.1f} GiB free"
        if self.host_peak_bytes:
            text += f" (host: {self.host_peak_bytes / GIB:.1f} GiB, {self.host_free_bytes / GIB:.1f} GiB free)"
        return text


def _proc_kib(path: str, field: str) -> int | None:
    """A ``kB`` field of a Linux /proc file in KiB, or None where there is none."""
    try:
        with open(path) as lines:
            return next((int(line.split()[1]) for line in lines if line.startswith(field + ":")), None)
    except OSError:
        return None


def measure(device: torch.device) -> MemoryReport | None:
    """This process's fold's memory on ``device`` (see the module); None where it cannot be
    measured (a CPU without Linux's /proc, or a device other than CUDA and the CPU)."""
    peak, available = _proc_kib("/proc/self/status", "VmHWM"), _proc_kib("/proc/meminfo", "MemAvailable")
    host = (peak * 1024, available * 1024) if peak is not None and available is not None else None
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return MemoryReport(str(device), int(torch.cuda.max_memory_reserved(device)) + CUDA_CONTEXT_BYTES, int(free), *(host or (0, 0)))
    if device.type == "cpu" and host is not None:
        return MemoryReport("cpu", *host)
    return None


def write_report(path: Path, report: MemoryReport | None) -> None:
    """``report`` as JSON at ``path`` (atomically; ``null`` when nothing could be measured)."""
    write_text(path, json.dumps(None if report is None else asdict(report)))


def wait_for_report(path: Path, fold: Future, poll: float = 0.5) -> MemoryReport | None:
    """The report written at ``path`` by the fold running as ``fold``; None when the fold ends
    before writing one (its memory is then free again) or could not measure."""
    while not path.is_file():
        if fold.done():
            fold.result()  # a failed fold fails the job here, by its own error
            return None
        time.sleep(poll)
    data = json.loads(path.read_text())
    return None if data is None else MemoryReport(**data)


def companions_that_fit(report: MemoryReport | None, wanted: int, headroom: float = HEADROOM) -> int:
    """How many of ``wanted`` companion folds fit in ``headroom`` of the free memory, each
    taking the measured fold's peak, on the device and (where reported) on the host; all of
    them when nothing was measured."""
    if report is None:
        return wanted
    pairs = [(report.peak_bytes, report.free_bytes), (report.host_peak_bytes, report.host_free_bytes)]
    return max(0, min([wanted] + [int(headroom * free // peak) for peak, free in pairs if peak > 0]))
