"""Train MOL on one fold and predict its test videos.

``python -m mol_core.train --clips clips.parquet --fold FOLD --out DIR --class-names JSON
[--test-clips clips.parquet] [--init model.pt] [--model JSON] [--settings JSON] [--threads N]``

Protocols, by what is given: a LOSO fold (FOLD is the test subject of ``--clips``); a
cross-dataset fold (``--test-clips``: every subject of ``--clips`` trains, every video of
the test clips is predicted); pre-training (model option ``mer_head: false``: flow and
landmark heads only, no test videos). Validation subjects are always drawn from the training
subjects (:mod:`mol_core.datasets.folds`), and the checkpoint is selected on them, never on the test
videos. ``--init`` starts from a (pre-trained) checkpoint: every weight whose name and shape
match is copied.

Writes into DIR:

- ``model.pt``: the selected checkpoint with everything needed to rebuild the model
  (options, frames, class names, package version, fold, step, subjects);
- ``predictions.parquet``: one row per test video (see :func:`mol_core.train.evaluate.video_predictions`);
- ``log.csv``: per logged step the losses per task, learning rate, validation metrics and
  elapsed seconds;
- ``resume.pt`` while training runs: a checkpoint every ``checkpoint_every`` steps, from
  which a killed job resumes with the same data and random state (deleted at the end).

Runs are reproducible: the same config on the same machine gives the same metrics.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import __version__
from ..clips.augment import centre_offset
from ..clips.data import CROP, ClipDataset, StoreCache
from ..datasets.folds import split_subjects, split_validation
from ..errors import MolError
from ..face68 import NORMALISERS
from ..model import MOL, MOLLoss
from ..model.loss import FLOW_LOSSES, LOSS_BALANCES
from ..store.zarr_store import open_store
from ..util.atomic import atomic_path, remove_path, write_csv, write_parquet
from ..util.device import pick_device, set_determinism
from ..util.text import counted
from .evaluate import predict_clips, validate, video_predictions
from .resume import read_resume, resume_key

SELECTION = ("val_loss", "val_acc")
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` section of an experiment; defaults follow the paper (Adam, lr 5e-5,
    batch 32, lambda_f 0.1, lambda_m 68)."""

    steps: int = 1000
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.0
    eval_every: int = 100  # validation (and checkpoint selection) every this many steps
    log_every: int = 10
    checkpoint_every: int = 100  # resume point every this many steps
    val_subjects: int = 1
    lambda_flow: float = 0.1
    lambda_landmark: float = 68.0
    select_on: str = "val_loss"
    amp: bool = True  # mixed precision, used on CUDA only
    seed: int = 0
    loss_balance: str = "paper"  # or "authors": their code's weights and averaging (MOLLoss.for_balance)
    landmark_normaliser: str = "eye_centres"  # or "outer_corners" (face68.NORMALISERS)
    flow_loss: str = "mse"  # the paper's; or "epe" (FlowNet's end-point error)
    lr_schedule: str = "constant"  # or "cosine": from lr down to 0 at the last step
    warmup_steps: int = 0  # linear warm-up from lr / warmup_steps

    def __post_init__(self):
        if self.select_on not in SELECTION:
            raise ValueError(f"select_on must be one of {SELECTION}, got {self.select_on!r}")
        for name, value, allowed in (("loss_balance", self.loss_balance, LOSS_BALANCES),
                                     ("landmark_normaliser", self.landmark_normaliser, NORMALISERS),
                                     ("flow_loss", self.flow_loss, FLOW_LOSSES), ("lr_schedule", self.lr_schedule, LR_SCHEDULES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if min(self.steps, self.batch_size, self.eval_every, self.log_every, self.checkpoint_every) < 1:
            raise ValueError("steps, batch_size, eval_every, log_every and checkpoint_every must be positive")


def learning_rate(settings: TrainSettings, step: int) -> float:
    """The learning rate of ``step`` (1-based): linear warm-up over ``warmup_steps``, then
    constant or a cosine decay to 0 at ``steps``; a pure function of the step (resumes
    need no scheduler state)."""
    if step <= settings.warmup_steps:
        return settings.lr * step / settings.warmup_steps
    if settings.lr_schedule == "constant":
        return settings.lr
    progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    return settings.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def batch_plan(n_items: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of the training batch of ``step`` (0-based): epochs of a fresh permutation
    drawn from (seed, epoch), a pure function of the step, so a resumed run continues the
    same sequence."""
    per_epoch = math.ceil(n_items / batch_size)
    epoch, position = divmod(step, per_epoch)
    order = np.random.default_rng([seed, 7919, epoch]).permutation(n_items)
    return order[position * batch_size : (position + 1) * batch_size]


def mean_landmarks(dataset: ClipDataset) -> torch.Tensor:
    """Average centre-cropped landmark position over the training clips [68,2]."""
    videos = [dataset.cache.get(r.store, r.flow) for r in dataset.clips.drop_duplicates("store").itertuples()]
    side = videos[0]["frames"].shape[-1]  # the aligned crops are square, one size per preprocessing
    shapes = np.concatenate([v["landmarks"] for v in videos])
    return torch.tensor(shapes.mean(0) - centre_offset(side, CROP), dtype=torch.float32)


def training_preprocessing(clips: pd.DataFrame) -> dict:
    """What a checkpoint needs to preprocess new videos like its training data: the store and
    flow parameters and the clip sampling's name (from the first training clip's store)."""
    row = clips.iloc[0]
    store = open_store(row.store)
    flow_attrs = dict(store[f"flow/{row.flow}"].attrs)
    return {"preprocess": {"store": dict(store.attrs["params"]), "flow": flow_attrs.get("params", {})},
            "sampling": flow_attrs.get("sampling", row.flow.rsplit("-", 1)[0])}


def fold_split(clips: pd.DataFrame, fold: str, settings: TrainSettings, test_clips: pd.DataFrame | None = None,
               pretrain: bool = False):
    """(train clips, validation clips, test clips, {train, validation, test: subjects})."""
    if pretrain:
        train_s, val_s = split_validation(clips.subject.unique(), settings.val_subjects, settings.seed, fold)
        test_s, test = [], clips.iloc[:0]
    elif test_clips is None:
        train_s, val_s, test_s = split_subjects(clips.subject.unique(), fold, settings.val_subjects, settings.seed)
        test = clips[clips.subject.isin(test_s)]
    else:
        train_s, val_s = split_validation(clips.subject.unique(), settings.val_subjects, settings.seed, fold)
        test_s, test = sorted(test_clips.subject.unique()), test_clips
    subjects = {"train": train_s, "validation": val_s, "test": test_s}
    return clips[clips.subject.isin(train_s)], clips[clips.subject.isin(val_s)], test, subjects


def initialise_from(model: MOL, path: str | Path, log) -> None:
    """Copy every weight of a checkpoint whose name and shape match the model's."""
    source = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    target = model.state_dict()
    copied = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    target.update(copied)
    model.load_state_dict(target)
    log(f"initialised {len(copied)} of {len(target)} tensors from {path}")


def _save(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        Path(tmp).write_bytes(buffer.getvalue())


def _better(metrics: dict, best: dict | None, select_on: str) -> bool:
    if best is None:
        return True
    if select_on == "val_acc" and not math.isnan(metrics["val_acc"]):
        return (metrics["val_acc"], -metrics["val_loss"]) > (best["val_acc"], -best["val_loss"])
    return metrics["val_loss"] < best["val_loss"]


def _duration(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def train_fold(clips: pd.DataFrame, fold: str, out_dir: str | Path, class_names: list[str], settings: TrainSettings,
               model_options: dict, log=print, test_clips: pd.DataFrame | None = None,
               init: str | Path | None = None) -> pd.DataFrame:
    """Train (resuming from ``out_dir/resume.pt`` if a killed run left one), select on
    validation, predict the test videos; write the outputs. Returns the predictions."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_determinism(settings.seed)
    device = pick_device()
    frames = len(clips.frames.iloc[0])
    pretrain = not model_options.get("mer_head", True)
    train_clips, val_clips, test_clips, subjects = fold_split(clips, fold, settings, test_clips, pretrain)
    if len(test_clips) and len(test_clips.frames.iloc[0]) != frames:
        raise MolError(f"fold {fold}: test clips have {len(test_clips.frames.iloc[0])} frames, training clips {frames}")
    cache = StoreCache()
    train_set = ClipDataset(train_clips, seed=settings.seed, cache=cache)
    val_set = ClipDataset(val_clips, cache=cache)
    test_set = ClipDataset(test_clips, cache=cache)
    if len(train_set) == 0:
        raise MolError(f"fold {fold}: no training clips")
    log(f"fold {fold}: {len(train_set)} training clips ({counted(len(subjects['train']), 'subject')}), {len(val_set)} validation "
        f"clips ({', '.join(subjects['validation']) or 'none'}), {len(test_set)} test clips "
        f"({counted(len(subjects['test']), 'subject')}); t={frames}; device {device}")

    model = MOL(len(class_names), frames=frames, **model_options).to(device)
    if model.landmarks is not None:
        model.landmarks.mean_shape.copy_(mean_landmarks(train_set).to(device))
    if init is not None:
        initialise_from(model, init, log)
    criterion = MOLLoss.for_balance(settings.loss_balance, frames, settings.lambda_flow, settings.lambda_landmark,
                                    settings.landmark_normaliser, settings.flow_loss)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    use_amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    run_id = resume_key(settings, model_options, fold, {"train": train_clips, "validation": val_clips, "test": test_clips},
                        init)
    resume_path = out_dir / "resume.pt"
    state = {"step": 0, "best": None, "best_step": 0, "best_state": None, "log_rows": [], "seconds": 0.0}
    if resume_path.exists():
        saved, why = read_resume(resume_path, run_id, device)
        if saved is not None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scaler.load_state_dict(saved["scaler"])
            torch.set_rng_state(saved["torch_rng"])
            if device.type == "cuda" and saved.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(saved["cuda_rng"])
            state = saved["state"]
            log(f"fold {fold}: resumed at step {state['step']} from {resume_path}")
        else:
            log(f"fold {fold}: ignoring {resume_path}: {why}; training from step 0")

    started, running = time.perf_counter() - state["seconds"], []
    for step in range(state["step"] + 1, settings.steps + 1):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(settings, step)
        indices = batch_plan(len(train_set), settings.batch_size, settings.seed, step - 1)
        batch = {k: v.to(device) for k, v in train_set.batch(indices, [(step, slot) for slot in range(len(indices))]).items()}
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            outputs = model(batch["frames"])
        loss, terms = criterion(outputs, batch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        running.append({"loss": float(loss.detach()), **terms})
        last = step == settings.steps
        evaluate = (step % settings.eval_every == 0 or last) and len(val_set) > 0
        if step % settings.log_every == 0 or last or evaluate:
            elapsed = time.perf_counter() - started
            row = {"step": step, **pd.DataFrame(running).mean().to_dict(), "lr": optimizer.param_groups[0]["lr"],
                   "val_loss": np.nan, "val_acc": np.nan, "seconds": elapsed}
            running = []
            if evaluate:
                metrics = validate(model, val_set, settings.batch_size, device, criterion.lambda_flow, criterion.lambda_landmark)
                row.update(metrics)
                if _better(metrics, state["best"], settings.select_on):
                    state.update(best=metrics, best_step=step,
                                 best_state={k: v.detach().clone() for k, v in model.state_dict().items()})
            state["log_rows"].append(row)
            eta = elapsed / step * (settings.steps - step)
            val = f", val loss {row['val_loss']:.3f} acc {row['val_acc']:.2f}" if evaluate else ""
            log(f"fold {fold}: step {step}/{settings.steps} ({100 * step // settings.steps}%) loss {row['loss']:.3f}{val}"
                f" [{_duration(elapsed)} elapsed, {_duration(eta)} left]")
        if step % settings.checkpoint_every == 0 and not last:
            state.update(step=step, seconds=time.perf_counter() - started)
            _save({"run_id": run_id, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                   "scaler": scaler.state_dict(), "torch_rng": torch.get_rng_state(),
                   "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None, "state": state}, resume_path)

    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    else:
        state["best_step"] = settings.steps
    log(f"fold {fold}: selected step {state['best_step']}"
        + (f" (validation {settings.select_on})" if state["best"] else " (no validation subjects: last step)"))

    evaluated = test_set if len(test_set) else val_set  # pre-training reports on its validation videos
    predictions = video_predictions(evaluated.clips, predict_clips(model, evaluated, settings.batch_size, device, exact=True))
    predictions.insert(0, "fold", fold)
    checkpoint = {"state_dict": model.state_dict(), "model_options": model_options, "num_classes": len(class_names),
                  "frames": frames, "class_names": list(class_names), "version": __version__, "fold": fold,
                  "step": state["best_step"], "train_settings": asdict(settings), "subjects": subjects,
                  **training_preprocessing(train_clips)}
    _save(checkpoint, out_dir / "model.pt")
    write_csv(pd.DataFrame(state["log_rows"]), out_dir / "log.csv")
    write_parquet(predictions, out_dir / "predictions.parquet")
    remove_path(resume_path)
    if "pred" in predictions and len(predictions):
        log(f"fold {fold}: test accuracy {(predictions.pred == predictions.label).mean():.2f} on {len(predictions)} videos")
    log(f"fold {fold}: done -> {out_dir}")
    return predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", required=True, help="clip index of the training (and, for LOSO, test) dataset")
    parser.add_argument("--test-clips", default=None, help="cross-dataset protocol: clip index of the test dataset")
    parser.add_argument("--fold", required=True, help="the test subject (LOSO), or the fold's name")
    parser.add_argument("--out", required=True)
    parser.add_argument("--class-names", required=True, help="JSON list, in label order")
    parser.add_argument("--init", default=None, help="checkpoint to start from (e.g. a pre-trained model.pt)")
    parser.add_argument("--model", default="{}", help="JSON: MOL options")
    parser.add_argument("--settings", default="{}", help="JSON: TrainSettings fields")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    try:
        settings = TrainSettings(**json.loads(args.settings))
        clips = pd.read_parquet(args.clips)
        test_clips = pd.read_parquet(args.test_clips) if args.test_clips else None
        train_fold(clips, args.fold, args.out, json.loads(args.class_names), settings, json.loads(args.model),
                   log=lambda m: print(m, flush=True), test_clips=test_clips, init=args.init)
    except (MolError, ValueError, TypeError) as error:
        print(f"error: fold {args.fold}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
