"""Host memory of a fold's training data, in memory versus streamed (benchmark, not a test).

    python tests/benchmarks/streaming_memory.py --clips results/synthetic/clips.parquet --budget-gb 0.25

For one LOSO fold's training clips (every subject but ``--fold``), each path runs in a fresh
process and reads ``--batches`` training batches of 32 (random crops and flips):

- in memory: the fold's videos loaded (``StoreCache``) and held as training holds them on
  the CPU (``DeviceArrays``: frames uint8, flow float32, landmarks), batches cut from them;
- streamed: ``step_batches`` with ``--workers`` processes reading each batch's chunks from
  the stores (the path of a fold above ``train.host_memory_gb``), batches as they arrive
  (compact; the float32 batch a step then makes is the step's working memory, the same on
  both paths, on the device when training on a GPU, and not counted here).

Memory is the proportional set size (Linux ``Pss`` of ``/proc/<pid>/smaps_rollup``) summed
over the process and its children (the loader's workers: pages they share with the
training process are counted once), sampled every 10 ms by a thread from before the data
is touched to after the last batch; the figure is the largest sum less the first. It prints each path's peak
beside the fold's in-memory size (``fold_nbytes``) and the budget, and ends with
``fold <F> MiB, in memory <M> MiB, streamed <S> MiB, budget <B> MiB, streamed / budget <S/B>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
MIB = 2**20


def pss(pid: int) -> int:
    """Proportional set size of process ``pid`` in bytes (0 when it has gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return 0


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return found


def family_pss() -> int:
    """This process's PSS plus its children's."""
    me = os.getpid()
    return pss(me) + sum(pss(child) for child in children(me))


def measure(clips_path: str, fold: str | None, how: str, workers: int, batches: int) -> dict:
    """Peak PSS added while ``how`` ("memory" or "stream") serves ``batches`` batches."""
    import pandas as pd
    import torch

    from mol_core.clips.data import ClipDataset, StoreCache
    from mol_core.clips.device_batches import DeviceArrays, DeviceClips
    from mol_core.clips.streaming import StreamingClips, fold_nbytes, step_batches
    from mol_core.train.loop import batch_plan

    clips = pd.read_parquet(clips_path)
    fold = fold or sorted(clips.subject.unique())[0]
    train = clips[clips.subject != fold].reset_index(drop=True)
    plans = [batch_plan(len(train), 32, 0, step) for step in range(batches)]
    start, peak, done = family_pss(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], family_pss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if how == "memory":
        cache = StoreCache()
        data = DeviceClips(ClipDataset(train, cache=cache, crop_jitter=8), DeviceArrays.from_cache(cache, torch.device("cpu")))
        batches_of = (data.batch(plan, [(step, slot) for slot in range(len(plan))]) for step, plan in enumerate(plans))
    else:
        batches_of = step_batches(StreamingClips(train, crop_jitter=8), plans, 0, workers, pin=False)
    for _ in batches_of:
        pass
    done.set()
    sampler.join()
    return {"fold": fold, "fold_bytes": fold_nbytes(train), "added": max(peak[0], start) - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default=str(REPO / "results/synthetic/clips.parquet"))
    parser.add_argument("--fold", default=None, help="the test subject (default: the first)")
    parser.add_argument("--workers", type=int, default=2, help="the streamed path's loader workers")
    parser.add_argument("--batches", type=int, default=20, help="training batches of 32 per path")
    parser.add_argument("--budget-gb", type=float, default=0.25, help="the host memory budget to compare with (GiB)")
    parser.add_argument("--how", choices=["memory", "stream"], default=None, help=argparse.SUPPRESS)  # one path, in this process
    args = parser.parse_args()
    if args.how:
        print(json.dumps(measure(args.clips, args.fold, args.how, args.workers, args.batches)))
        return 0
    results = {}
    for how in ("memory", "stream"):
        command = [sys.executable, __file__, "--clips", args.clips, "--workers", str(args.workers), "--batches", str(args.batches), "--how", how]
        command += ["--fold", args.fold] if args.fold else []
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        results[how] = json.loads(done.stdout.strip().splitlines()[-1])
    fold, memory, stream = results["memory"]["fold_bytes"] / MIB, results["memory"]["added"] / MIB, results["stream"]["added"] / MIB
    budget = args.budget_gb * 1024
    print(f"fold {results['memory']['fold']} ({args.batches} batches of 32): in-memory size {fold:.0f} MiB (fold_nbytes)")
    print(f"in memory: peak added {memory:.0f} MiB ({memory / fold:.2f} of the fold)")
    print(f"streamed with {args.workers} workers: peak added {stream:.0f} MiB ({stream / fold:.2f} of the fold), workers included")
    headline = f"fold {fold:.0f} MiB, in memory {memory:.0f} MiB, streamed {stream:.0f} MiB"
    print(f"{headline}, budget {budget:.0f} MiB, streamed / budget {stream / budget:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
