"""A fold's measured memory and how many companion folds fit beside it (train.folds_per_gpu)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from mol_core.train.device_memory import MemoryReport, companions_that_fit, measure, wait_for_report, write_report

GIB = 2**30


def test_companions_fit_in_the_free_memory_less_headroom():
    report = MemoryReport("cuda:0", peak_bytes=10 * GIB, free_bytes=100 * GIB)
    assert companions_that_fit(report, wanted=3) == 3
    assert companions_that_fit(report, wanted=20) == 9  # 0.9 * 100 // 10
    assert companions_that_fit(MemoryReport("cuda:0", 10 * GIB, 19 * GIB), wanted=3) == 1
    assert companions_that_fit(MemoryReport("cuda:0", 10 * GIB, 9 * GIB), wanted=3) == 0
    assert companions_that_fit(None, wanted=3) == 3  # nothing measured: the setting decides
    on_gpu = MemoryReport("cuda:0", 10 * GIB, 100 * GIB, host_peak_bytes=8 * GIB, host_free_bytes=30 * GIB)
    assert companions_that_fit(on_gpu, wanted=8) == 3  # the host (0.9 * 30 // 8) binds before the GPU (9)


def resident() -> int:
    """This process's resident bytes now (Linux VmRSS)."""
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmRSS:"))


def test_the_cpu_measure_follows_the_process_peak():
    before = measure(torch.device("cpu"))
    assert before is not None and before.device == "cpu" and before.free_bytes > 0
    assert before.peak_bytes >= resident() * 0.99
    now = resident()
    block = np.ones(300 * 2**20, np.uint8)  # 300 MiB touched
    after = measure(torch.device("cpu"))
    assert after.peak_bytes >= now + 290 * 2**20, (now, after)  # the peak includes the block
    del block


def test_a_report_is_read_back_or_the_fold_ending_first_says_none(tmp_path):
    path = tmp_path / "memory.json"
    report = MemoryReport("cpu", 123, 456)
    write_report(path, report)
    with ThreadPoolExecutor(1) as pool:
        assert wait_for_report(path, pool.submit(lambda: None)) == report
        done = pool.submit(lambda: None)
        done.result()
        assert wait_for_report(tmp_path / "never.json", done, poll=0.01) is None
        failed = pool.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            wait_for_report(tmp_path / "never.json", failed, poll=0.01)
    write_report(path, None)
    with ThreadPoolExecutor(1) as pool:
        assert wait_for_report(path, pool.submit(lambda: None)) is None
