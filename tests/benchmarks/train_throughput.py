"""Training throughput on whatever device torch picks (benchmark, not a test).

    python tests/benchmarks/train_throughput.py --clips .gpu/clips.parquet --pack .gpu/levers.npz
    python tests/benchmarks/train_throughput.py --clips results/synthetic/clips.parquet   # from the zarr stores

Sets up one LOSO fold as training does (:class:`mol_core.train.loop.FoldTraining`: its
data path, model, precision and optimiser) and prints, in one run:

- data: training batches of 32 (plan, random crop and flip, on the device) in clips/s, from
  the device arrays (the path training takes) and, for comparison, per clip on the CPU and
  streamed from the zarr stores by ``--workers`` processes (the path of a fold beyond
  ``train.host_memory_gb``; not with ``--pack``), with the streamed path's ratio to the
  device arrays';
- copy: a plain memory copy of the same bytes on the same device (``dst.copy_(src)`` of a
  buffer the size of one batch's tensors), in clips/s: what any data path must at least pay;
- model: training steps on one fixed batch (forward, loss, backward, Adam), clips/s
  (data, copy and model: from the median time of one call, synchronised);
- together: real training steps (batch then step), clips/s, and the share of the step spent
  waiting for the batch (device synchronised around it);
- peak memory (CUDA: the allocator's peak; CPU: the process's peak resident size) and, on
  CUDA, the achieved FLOP/s (model FLOPs of a step from FlopCounterMode) against the
  device's dense bf16 peak (``PEAK_TFLOPS`` by device name, or ``--peak-tflops``).

The model is the paper's (``--width 1.0``) at batch 32 on CUDA; on the CPU the defaults are
smaller (``--width 0.125 --model-batch 8``, the demo's) so a run ends within minutes.
The last two lines read ``data <X> clips/s, copy <C> clips/s, model <Y> clips/s`` and
``data <X> clips/s, model <Y> clips/s, ratio <X/Y>`` (the headline line of every benchmark).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity), first match of the device's name wins.
PEAK_TFLOPS = [
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10", 125.0),
    ("RTX 4090", 165.0),
]
DATA_BATCH = 32


def peak_tflops(name: str) -> float | None:
    return next((peak for key, peak in PEAK_TFLOPS if key in name), None)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn, device: torch.device, repeats: int, clips_per_call: int) -> float:
    """clips/s of ``fn`` from the median of ``repeats`` timed calls after one warm-up (device
    synchronised around each; the median keeps a shared machine's bursts of load from
    deciding the figure, for short and long calls alike)."""
    fn(0)
    times = []
    for k in range(1, repeats + 1):
        sync(device)
        started = time.perf_counter()
        fn(k)
        sync(device)
        times.append(time.perf_counter() - started)
    return clips_per_call / statistics.median(times)


def streamed_rate(run, batches: int, workers: int) -> float:
    """clips/s of a fold's training batches of 32 streamed from its stores by ``workers``
    processes and moved to the device (after two batches, once the workers run)."""
    from mol_core.clips.data import expand_batch
    from mol_core.clips.streaming import StreamingClips, step_batches
    from mol_core.train.loop import batch_plan

    settings, device = run.settings, run.device
    data = StreamingClips(run.train_set.clips, seed=settings.seed, crop_jitter=settings.crop_jitter, targets=settings.targets)
    plans = [batch_plan(len(data), DATA_BATCH, settings.seed, k) for k in range(batches + 2)]
    stream = step_batches(data, plans, 1, workers, device.type == "cuda")
    next(stream), next(stream)
    sync(device)
    started = time.perf_counter()
    for batch in stream:
        expand_batch({name: t.to(device, non_blocking=True) for name, t in batch.items()})
    sync(device)
    return batches * DATA_BATCH / (time.perf_counter() - started)


def batch_bytes(batch: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in batch.values())


def step_flops(run, batch: dict[str, torch.Tensor]) -> int:
    """FLOPs of one training step's forward and backward on ``batch`` (optimiser excluded)."""
    from torch.utils.flop_counter import FlopCounterMode

    run.model.train()
    with FlopCounterMode(display=False) as counter:
        with run.precision.autocast(run.device):
            outputs = run.model(batch["frames"])
        loss, _ = run.criterion(outputs, batch)
        loss.backward()
    run.optimizer.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default=str(REPO / "results/synthetic/clips.parquet"))
    parser.add_argument("--pack", default=None, help="stores packed by learning_levers.py --make-pack (no zarr needed)")
    parser.add_argument("--width", type=float, default=None, help="model flow_width (default 1.0 on CUDA, 0.125 on the CPU)")
    parser.add_argument("--model-batch", type=int, default=None, help="model batch (default 32 on CUDA, 8 on the CPU)")
    parser.add_argument("--steps", type=int, default=None, help="timed model steps (default 20 on CUDA, 3 on the CPU)")
    parser.add_argument("--data-batches", type=int, default=30, help="timed data batches of 32 (and copies)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--workers", type=int, default=2, help="processes reading the streamed path's batches")
    parser.add_argument("--amp", type=int, default=1, help="train.amp (1: the precision policy; 0: fp32)")
    parser.add_argument("--compile", action="store_true", help="train.compile")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's dense bf16 peak (overrides the table)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.pack:
        from learning_levers import use_pack

        use_pack(args.pack)
    from mol_core.datasets import class_names
    from mol_core.train.loop import FoldTraining, TrainSettings, batch_plan

    cuda = torch.cuda.is_available()
    width = args.width if args.width is not None else (1.0 if cuda else 0.125)
    model_batch = args.model_batch or (32 if cuda else 8)
    steps = args.steps or (20 if cuda else 3)
    clips = pd.read_parquet(args.clips)
    fold = sorted(clips.subject.unique())[0]
    settings = TrainSettings(steps=10**6, batch_size=model_batch, amp=bool(args.amp), compile=args.compile)
    with tempfile.TemporaryDirectory() as out:
        messages = []
        run = FoldTraining(clips, fold, out, class_names("synthetic", 5), settings, {"flow_width": width}, log=messages.append)
    device = run.device
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} torch threads"
    print(
        f"device: {name}; {run.precision.name}; model flow_width {width}, batch {model_batch}; "
        f"{len(run.train_set)} training clips (fold {fold}){'; compiled' if args.compile else ''}"
    )
    print("  " + "\n  ".join(messages))

    # Data alone: the training path's batches of 32, then the per-clip path's.
    def data_batch(batcher):
        def call(k):
            indices = batch_plan(len(run.train_set), DATA_BATCH, settings.seed, k)
            keys = [(k + 1, slot) for slot in range(len(indices))]
            return {name: t.to(device) for name, t in batcher.batch(indices, keys).items()}

        return call

    data = rate(data_batch(run.train_batches), device, args.data_batches, DATA_BATCH)
    per_clip = rate(data_batch(run.train_set), device, max(5, args.data_batches // 4), DATA_BATCH)
    sample = data_batch(run.train_batches)(0)
    nbytes = batch_bytes(sample)
    source = torch.ones(nbytes, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    copy = rate(lambda k: target.copy_(source), device, args.data_batches, DATA_BATCH)
    print(
        f"data path: {data:.0f} clips/s ({'device arrays' if run.train_batches is not run.train_set else 'per clip'}); "
        f"per clip on the CPU: {per_clip:.0f} clips/s; copy of the same {nbytes / 2**20:.1f} MiB per 32 clips: "
        f"{copy:.0f} clips/s; data / copy = {data / copy:.2f}"
    )
    if args.pack:
        print("streamed from the stores: not measured (--pack: no zarr stores)")
    else:
        streamed = streamed_rate(run, args.data_batches, args.workers)
        print(f"streamed from the stores ({args.workers} workers): {streamed:.0f} clips/s; streamed / device arrays = {streamed / data:.2f}")

    # Model alone: training steps on one fixed batch.
    fixed = run.train_batch(1)
    fresh = run.train_batch
    run.train_batch = lambda step: fixed
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    model = rate(lambda k: run.train_step(k + 1), device, steps, len(fixed["label"]))
    run.train_batch = fresh
    print(f"model alone (forward, loss, backward, Adam; batch {model_batch}): {model:.1f} clips/s")

    # Together: real steps, the wait for each batch timed with the device synchronised around it.
    waited = [0.0]

    def timed_batch(step):
        sync(device)
        started = time.perf_counter()
        batch = fresh(step)
        sync(device)
        waited[0] += time.perf_counter() - started
        return batch

    run.train_batch = timed_batch
    run.train_step(1)  # warm-up
    waited[0] = 0.0
    sync(device)
    started = time.perf_counter()
    for step in range(2, steps + 2):
        run.train_step(step)
    sync(device)
    seconds = time.perf_counter() - started
    run.train_batch = fresh
    together = steps * model_batch / seconds
    print(f"together (batch + step): {together:.1f} clips/s; data wait {100 * waited[0] / seconds:.1f}% of step time")

    if cuda:
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        print(f"peak memory: {peak:.2f} GiB allocated on {name}")
        flops = step_flops(run, fixed)
        achieved = flops * model / model_batch
        peak_flops = args.peak_tflops or peak_tflops(name)
        share = (
            f", {100 * achieved / (peak_flops * 1e12):.1f}% of the {peak_flops:.0f} TFLOP/s bf16 peak"
            if peak_flops
            else " (peak unknown for this device: --peak-tflops)"
        )
        print(f"model FLOPs per step {flops / 1e12:.3f} TFLOP (forward + backward); achieved {achieved / 1e12:.1f} TFLOP/s{share}")
    else:
        print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB resident (whole process)")
    print(f"data {data:.0f} clips/s, copy {copy:.0f} clips/s, model {model:.1f} clips/s")
    print(f"data {data:.0f} clips/s, model {model:.1f} clips/s, ratio {data / model:.1f}")  # design.md's headline line
    return 0


if __name__ == "__main__":
    sys.exit(main())
