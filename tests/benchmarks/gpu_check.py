"""The prepared GPU check: what a machine with one NVIDIA GPU must show (not a test; about
2-4 minutes on an H100/H200, at most 8).

    python3 tests/benchmarks/gpu_check.py --clips .gpu/clips.parquet --pack .gpu/levers.npz --wheels .whl

Needs PyTorch with CUDA, numpy, pandas, pyarrow and pyyaml. zarr and zstandard are imported
by the package: when one is missing, ``--wheels DIR`` installs them from wheels in DIR (zarr,
numcodecs, donfig, google-crc32c, zstandard for the machine's Python) into a temporary folder; the
stores come from the pack, so neither zarr's files nor OpenCV nor dlib are read. Parts:

1. batches: the training batches cut on the GPU (one gather per array) equal the per-clip
   CPU batches bit for bit (3 steps of random crops and flips, and the centre crops);
2. fp32 agreement: the paper-size model's forward on a fixed batch of 4 centre crops, on
   CUDA (TF32 off) against the CPU: max |difference| / max |CPU value| <= 1e-3 for the
   logits, the flow and the landmark offsets (landmarks minus the mean shape);
3. bf16 agreement: the same forward under bf16 autocast against CUDA fp32: <= 5e-2;
4. training: 200 paper-size steps (flow_width 1.0, batch 32, lr 5e-5, fusion concat) of fold
   sub01 through ``train_fold`` (validation at 100 and 200, test predictions), with
   throughput, the share of step time spent waiting for batches, and peak memory; passes
   when every loss is finite, the batches were cut on the GPU and the run used bf16 (fp16
   on GPUs without it); ``training_fast``: the same with ``train.deterministic: false``
   (cuDNN benchmarked, possibly non-deterministic kernels), for the cost of determinism;
5. the benchmark ``train_throughput.py`` (its output, for the numbers: the data paths, the
   model alone, the data wait, peak memory and the paper-size step's share of the bf16
   peak, MFU); ``streaming``: the same benchmark on zarr stores unpacked from the pack, for
   the streamed path of folds beyond host memory (``train.host_memory_gb``) beside the
   device arrays;
   ``syncs``: host syncs per training step between log steps (``torch.cuda`` sync debug
   mode over 19 steps of a run that logs every 20th; passes at zero); ``folds_per_gpu``:
   two paper-size folds of 100 steps one after another, then two at once by one job
   (``train.folds_per_gpu: 2``), with the speed-up and the first fold's measured memory (its
   peak and the GPU's free memory: how many folds of this size one GPU holds);
6. the workflow: if snakemake, OpenCV's contrib module (``cv2.optflow``), dlib,
   face_recognition_models and openpyxl are importable, one ``snakemake --cores 16
   --resources gpu=1`` run of a tiny experiment (3 synthetic subjects, 20 steps) whose
   training jobs must report ``device cuda``; otherwise skipped, naming what is missing
   (bring wheels for them: snakemake and its dependencies, opencv-contrib-python-headless,
   dlib-bin, face-recognition-models, openpyxl).

The last line reads ``gpu check: <P> passed, <F> failed, <S> skipped``; exit status 1 when
any part failed.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

FP32_TOLERANCE = 1e-3  # max |CUDA - CPU| / max |CPU|, fp32 with TF32 off
BF16_TOLERANCE = 5e-2  # max |bf16 - fp32| / max |fp32|, on CUDA
RESULTS: list[tuple[str, str, str]] = []  # (part, "pass" | "FAIL" | "skip", detail)


PARTS = ("batches", "agreement", "training", "training_fast", "syncs", "benchmark", "streaming", "folds_per_gpu", "workflow")


def report(part: str, ok: bool | None, detail: str) -> None:
    status = "skip" if ok is None else ("pass" if ok else "FAIL")
    RESULTS.append((part, status, detail))
    print(f"[{status}] {part}: {detail}", flush=True)


def ensure_zarr(wheels: str | None, target: Path) -> str | None:
    """Make zarr and zstandard importable (from ``wheels`` into ``target``); returns the folder
    added to the path, or None when both were there already."""
    if all(importlib.util.find_spec(name) is not None for name in ("zarr", "zstandard")):
        return None
    if not wheels:
        raise SystemExit(
            "zarr or zstandard is not installed: pass --wheels DIR with zarr, numcodecs, donfig, google-crc32c and zstandard wheels"
        )
    # --no-deps: numpy, pyyaml, packaging and typing_extensions are the image's own
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--find-links",
            wheels,
            "--target",
            str(target),
            "zarr",
            "numcodecs",
            "donfig",
            "google-crc32c",
            "zstandard",
        ],
        check=True,
    )
    sys.path.insert(0, str(target))
    return str(target)


def relative_error(value, reference) -> float:
    return float((value.float() - reference.float()).abs().max() / reference.float().abs().max().clamp_min(1e-12))


def compared_outputs(model, outputs) -> dict:
    """The outputs compared: logits, flow, and landmark offsets from the mean shape."""
    compared = {k: v for k, v in outputs.items() if k in ("logits", "flow")}
    if "landmarks" in outputs:
        compared["landmark offsets"] = outputs["landmarks"].float() - model.landmarks.mean_shape.to(outputs["landmarks"].device)
    return compared


def check_batches(clips, torch, device: str = "cuda") -> None:
    from mol_core.clips.data import ClipDataset
    from mol_core.clips.device_batches import DeviceArrays, DeviceClips
    from mol_core.train.loop import batch_plan

    per_clip = ClipDataset(clips, seed=0)
    mine = ClipDataset(clips, seed=0)
    device = DeviceClips(mine, DeviceArrays.from_cache(mine.cache, torch.device(device)))
    same, compared = True, 0
    for step in range(1, 4):
        indices = batch_plan(len(per_clip), 32, 0, step - 1)
        keys = [(step, slot) for slot in range(len(indices))]
        pairs = [(per_clip.batch(indices, keys), device.batch(indices, keys))]
        pairs.append((per_clip.batch(indices[:8]), device.batch(indices[:8])))
        for expected, actual in pairs:
            for name, tensor in expected.items():
                got = actual[name].cpu()
                bits = (lambda t: t.view(torch.int32)) if tensor.dtype == torch.float32 else (lambda t: t)
                same &= got.dtype == tensor.dtype and torch.equal(bits(got), bits(tensor))
                compared += 1
    report("batches", same, f"{compared} tensors of GPU-cut batches against per-clip CPU batches: {'bitwise equal' if same else 'DIFFERENT'}")


def check_agreement(clips, torch, device: str = "cuda") -> None:
    from mol_core.clips.data import ClipDataset
    from mol_core.model import MOL
    from mol_core.util.precision import training_precision

    torch.manual_seed(0)
    model = MOL(5, frames=len(clips.frames.iloc[0])).eval()
    frames = ClipDataset(clips.iloc[:4]).batch(range(4))["frames"]
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    with torch.no_grad():
        cpu = compared_outputs(model, model(frames))
        model.to(device)
        cuda = compared_outputs(model, model(frames.to(device)))
        precision = training_precision(torch.device(device), True)
        with precision.autocast(torch.device(device)):
            low = compared_outputs(model, model(frames.to(device)))
    errors = {k: relative_error(cuda[k].cpu(), cpu[k]) for k in cpu}
    report(
        "fp32 CUDA vs CPU",
        all(e <= FP32_TOLERANCE for e in errors.values()),
        ", ".join(f"{k} {e:.1e}" for k, e in errors.items()) + f" (tolerance {FP32_TOLERANCE:.0e})",
    )
    errors = {k: relative_error(low[k], cuda[k]) for k in cuda}
    report(
        f"{precision.name} vs fp32 (CUDA)",
        all(e <= BF16_TOLERANCE for e in errors.values()),
        ", ".join(f"{k} {e:.1e}" for k, e in errors.items()) + f" (tolerance {BF16_TOLERANCE:.0e})",
    )
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32


def check_training(clips, steps: int, torch, deterministic: bool = True) -> None:
    import numpy as np
    import pandas as pd

    from mol_core.datasets import class_names
    from mol_core.train import loop

    timing = {"step": 0.0, "batch": 0.0}
    train_step, train_batch = loop.FoldTraining.train_step, loop.FoldTraining.train_batch

    def timed(name, method):
        def wrapper(self, step):
            torch.cuda.synchronize()
            started = time.perf_counter()
            result = method(self, step)
            torch.cuda.synchronize()
            timing[name] += time.perf_counter() - started
            return result

        return wrapper

    loop.FoldTraining.train_step, loop.FoldTraining.train_batch = timed("step", train_step), timed("batch", train_batch)
    messages = []
    settings = loop.TrainSettings(
        steps=steps, batch_size=32, lr=5e-5, eval_every=100, log_every=20, checkpoint_every=10 * steps, deterministic=deterministic
    )
    torch.cuda.reset_peak_memory_stats()
    try:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            predictions = loop.train_fold(
                clips, "sub01", out, class_names("synthetic", 5), settings, {}, log=lambda m: (messages.append(m), print("   ", m, flush=True))
            )
            total = time.perf_counter() - started
            log = pd.read_csv(Path(out) / "log.csv")
    finally:
        loop.FoldTraining.train_step, loop.FoldTraining.train_batch = train_step, train_batch
    finite = bool(np.isfinite(log[["loss", "ce", "flow", "landmark"]].to_numpy(float)).all())
    on_gpu = any("batches cut on cuda" in m for m in messages)
    precision = next((m.rsplit(", ", 1)[-1] for m in messages if "; device cuda" in m), "?")
    from mol_core.util.precision import native_bf16

    expected = "bf16" if native_bf16() else "fp16"
    accuracy = float((predictions.pred == predictions.label).mean())
    detail = (
        f"{steps} steps in {timing['step']:.1f} s of steps ({total:.0f} s with validation, set-up and outputs): "
        f"{steps * 32 / timing['step']:.0f} clips/s, {steps / timing['step']:.1f} steps/s; data wait "
        f"{100 * timing['batch'] / timing['step']:.1f}% of step time; peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB; "
        f"{precision}; batches {'on the GPU' if on_gpu else 'per clip (fallback)'}; losses "
        f"{log.loss.iloc[0]:.3f} -> {log.loss.iloc[-1]:.3f}{'' if finite else ' (NOT FINITE)'}; test accuracy {accuracy:.2f}"
    )
    report("training" if deterministic else "training_fast", finite and on_gpu and precision == expected, detail)


def check_benchmark(args, env: dict, timeout: float, clips: str | None = None, part: str = "benchmark") -> None:
    """``train_throughput.py`` on the pack (or on ``clips``' zarr stores, for the streamed path)."""
    command = [sys.executable, str(HERE / "train_throughput.py"), "--clips", clips or args.clips]
    command += ["--pack", args.pack] if args.pack and clips is None else []
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    print("    " + "\n    ".join(result.stdout.strip().splitlines()), flush=True)
    lines = result.stdout.strip().splitlines()
    streamed = [line for line in lines if line.startswith("streamed from the stores (")]
    last = (streamed if part == "streaming" and streamed else lines)[-1] if lines else result.stderr[-500:]
    report(part, result.returncode == 0, last)


def unpack_stores(pack_path: str, clips, folder: Path):
    """The pack's stores written as zarr stores under ``folder`` (flow dequantised to float16,
    pairs unknown to the pack written as zeros: the teacher targets never read them); the
    clip index pointing at them."""
    import json

    import numpy as np
    from learning_levers import FLOW_SCALE

    from mol_core.store.zarr_store import add_flow, write_store

    pack = np.load(pack_path, allow_pickle=False)
    moved = {}
    for k, (path, flow) in enumerate(clips[["store", "flow"]].drop_duplicates().itertuples(index=False)):
        target = moved.setdefault(path, folder / f"s{k}.zarr")
        if not target.exists():
            write_store(target, pack[f"{path}|frames"], pack[f"{path}|landmarks"], json.loads(str(pack[f"{path}|attrs"])))
        values = pack[f"{path}|flow/{flow}"].astype(np.float16) / np.float16(FLOW_SCALE)
        attrs = json.loads(str(pack[f"{path}|flow/{flow}|attrs"]))
        add_flow(
            target,
            flow,
            np.zeros((len(values), 2), np.int32),
            values,
            {k: v for k, v in attrs.items() if k not in ("chunks", "pairs_chunks", "version", "complete")},
        )
    unpacked = clips.assign(store=clips.store.map(lambda p: str(moved[p])))
    path = folder / "clips.parquet"
    unpacked.to_parquet(path)
    return str(path)


def check_folds_per_gpu(clips_path: str, torch, steps: int = 100) -> None:
    """Two paper-size folds trained one after another in this process, then together by one
    job (``train.folds_per_gpu: 2``, a process per fold): wall times and their ratio."""
    import pandas as pd

    from mol_core.datasets import class_names
    from mol_core.train.loop import TrainSettings, train_fold
    from mol_core.train.shared_device import SharedFolds, train_shared

    clips = pd.read_parquet(clips_path)
    folds, names = sorted(clips.subject.unique())[:2], class_names("synthetic", 5)
    settings = TrainSettings(steps=steps, batch_size=32, eval_every=steps, log_every=20, checkpoint_every=10 * steps, folds_per_gpu=2)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        for fold in folds:
            train_fold(clips, fold, Path(out) / "alone" / fold, names, settings, {}, log=lambda m: None)
        alone = time.perf_counter() - started
        started = time.perf_counter()
        said: list[str] = []
        train_shared(SharedFolds(clips, names, settings, {}), folds[0], Path(out) / "shared" / folds[0], folds, 2, 8, log=said.append)
        together = time.perf_counter() - started
        both = all((Path(out) / "shared" / f / ("." if f == folds[0] else "batched") / "model.pt").is_file() for f in folds)
    measured = next((m.split(": ", 1)[1] for m in said if "at its peak" in m), "no memory report")  # what k the GPU allows
    detail = f"2 folds x {steps} paper-size steps: one after another {alone:.0f} s, two at once {together:.0f} s ({alone / together:.2f}x)"
    detail += f"; {measured}"
    report("folds_per_gpu", both, detail)


def check_syncs(clips, torch) -> None:
    """Host syncs of the training steps between two log steps, counted by torch's CUDA sync
    debug mode (each synchronising call warns once)."""
    import warnings

    from mol_core.datasets import class_names
    from mol_core.train import loop

    settings = loop.TrainSettings(steps=40, batch_size=32, log_every=20, eval_every=1000, checkpoint_every=1000)
    with tempfile.TemporaryDirectory() as out:
        run = loop.FoldTraining(clips, "sub01", out, class_names("synthetic", 5), settings, {}, log=lambda m: None)
        for step in range(1, 21):  # warm-up: compile-time allocations and the first log
            run.train_step(step)
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for step in range(21, 40):  # 19 steps, none of them a log step
                    run.train_step(step)
            finally:
                torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    where = sorted({f"{Path(w.filename).name}:{w.lineno}" for w in syncs})[:5]
    report("syncs", not syncs, f"{len(syncs)} host syncs in 19 steps between log steps" + (f" (at {', '.join(where)})" if where else ""))


TINY = """cache_dir: cache
synthetic: {faces: %(faces)s, root: data/synthetic, subjects: 3, videos_per_class: 1, frames: 8, pad_frames: 1, seed: 1}
datasets: {synthetic: {loader: synthetic, root: data/synthetic, classes: 5}}
sampling: {frames: 4}
experiments:
  tiny: {dataset: synthetic, model: {flow_width: 0.125, fusion: subtract}, train: {steps: 20, batch_size: 8, lr: 0.001, eval_every: 10}}
threads: {synthetic: 4, preprocess: 2, train: 4}
"""


def check_workflow(env: dict, timeout: float) -> None:
    needed = {
        "snakemake": "snakemake",
        "dlib": "dlib",
        "face_recognition_models": "face_recognition_models",
        "openpyxl": "openpyxl",
        "zarr": "zarr",
        "h5py": "h5py",
    }
    missing = [name for name, module in needed.items() if importlib.util.find_spec(module) is None]
    try:
        import cv2

        if not hasattr(cv2, "optflow"):
            missing.append("cv2.optflow (opencv-contrib-python-headless)")
    except ImportError:
        missing.append("cv2 (opencv-contrib-python-headless)")
    if missing:
        report("workflow", None, f"not importable here: {', '.join(missing)} (bring their wheels to run it)")
        return
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "config.yaml").write_text(TINY % {"faces": REPO / "resources" / "faces"})
        bin_dir = work / "bin"
        bin_dir.mkdir()
        wrapper = bin_dir / "python"  # the rules call `python -m mol_core...`; a link would lose a venv's packages
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        wrapper.chmod(0o755)
        env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(work),
            "--cores",
            "16",
            "--resources",
            "gpu=1",
        ]
        started = time.perf_counter()
        try:
            result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            report("workflow", False, f"snakemake did not finish within {timeout:.0f} s (the check's time budget)")
            return
        seconds = time.perf_counter() - started
        train_logs = sorted((work / "results" / "logs" / "tiny" / "train").glob("*.log"))
        devices = [re.findall(r"; device (\w+)", p.read_text(errors="replace")) for p in train_logs]
        done = result.returncode == 0 and (work / "results" / "tiny" / "metrics.csv").is_file()
        on_gpu = bool(devices) and all(d == ["cuda"] for d in devices)
        tail = "" if done else " | " + (result.stdout + result.stderr)[-3000:].replace("\n", " | ")
        report(
            "workflow",
            done and on_gpu,
            f"snakemake --cores 16 --resources gpu=1: exit {result.returncode} in {seconds:.0f} s; "
            f"devices of the {len(train_logs)} training jobs: {sorted({x for d in devices for x in d}) or 'none logged'}{tail}",
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default=str(REPO / ".gpu/clips.parquet"))
    parser.add_argument("--pack", default=str(REPO / ".gpu/levers.npz"), help="stores packed by learning_levers.py --make-pack")
    parser.add_argument(
        "--wheels",
        default=str(REPO / ".whl") if (REPO / ".whl").is_dir() else None,
        help="folder of wheels to install zarr from when it is missing",
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--budget", type=float, default=480, help="seconds the whole check may take (the subprocesses' limit)")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=PARTS,
    )
    args = parser.parse_args()
    started = time.perf_counter()
    left = lambda: max(30.0, args.budget - (time.perf_counter() - started))  # noqa: E731
    import torch

    if not torch.cuda.is_available():
        print("gpu check: no CUDA device visible to torch")
        return 1
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, bf16 native: {torch.cuda.is_bf16_supported()}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        added = ensure_zarr(args.wheels, Path(scratch) / "site")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (added, str(REPO), os.environ.get("PYTHONPATH")) if p),
            "PYTHONUNBUFFERED": "1",
        }
        import pandas as pd
        from learning_levers import use_pack

        if args.pack:
            use_pack(args.pack)
        clips = pd.read_parquet(args.clips)

        @functools.cache
        def unpacked() -> str:
            """A clip index on zarr stores: the pack's, written once when a part needs them."""
            return unpack_stores(args.pack, clips, Path(scratch)) if args.pack else args.clips

        parts = [
            ("batches", lambda: check_batches(clips, torch)),
            ("agreement", lambda: check_agreement(clips, torch)),
            ("training", lambda: check_training(clips, args.steps, torch)),
            ("training_fast", lambda: check_training(clips, args.steps, torch, deterministic=False)),
            ("syncs", lambda: check_syncs(clips, torch)),
            ("benchmark", lambda: check_benchmark(args, env, min(240.0, left()))),
            ("streaming", lambda: check_benchmark(args, env, min(120.0, left()), unpacked(), "streaming")),
            ("folds_per_gpu", lambda: check_folds_per_gpu(unpacked(), torch)),
            ("workflow", lambda: check_workflow(env, left())),
        ]
        assert tuple(name for name, _ in parts) == PARTS  # every part can be skipped by name
        for name, part in parts:
            if name in args.skip:
                report(name, None, "skipped (--skip)")
                continue
            try:
                part()
            except Exception as error:  # noqa: BLE001 - a broken part is reported, the others still run
                report(name, False, f"{error.__class__.__name__}: {error}")
    counts = {status: sum(1 for _, s, _ in RESULTS if s == status) for status in ("pass", "FAIL", "skip")}
    print(f"({time.perf_counter() - started:.0f} s)")
    print(f"gpu check: {counts['pass']} passed, {counts['FAIL']} failed, {counts['skip']} skipped")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
