"""Train MOL on one leave-one-subject-out fold and predict its test subject.

``python -m mol_core.train --clips clips.parquet --fold SUBJECT --out DIR --class-names JSON
[--test-clips clips.parquet] [--model JSON] [--settings JSON] [--threads N]`` writes into DIR:

- ``model.pt``: the selected checkpoint with everything needed to rebuild the model
  (options, frames, class names, package version, fold, step);
- ``predictions.parquet``: one row per test video: label, pred, mean clip ``logits``,
  ``n_clips``, ``flow_epe`` (flow head vs TV-L1, pixels), ``landmark_nme`` and
  ``landmark_failure`` (share of frames with NME > 10%) vs dlib;
- ``log.csv``: per logged step the losses per task, learning rate and validation metrics.

The checkpoint is selected on validation subjects drawn from the training subjects
(:func:`mol_core.folds.split_subjects`); the test subject is only ever predicted. With
``--test-clips`` (cross-dataset protocol) every subject of ``--clips`` trains (validation
subjects drawn from them) and every video of the test clips is predicted; FOLD names it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import default_collate

from . import __version__
from .atomic import atomic_path, write_csv, write_parquet
from .clip_data import ClipDataset, StoreCache
from .errors import MolError
from .folds import split_subjects, split_validation
from .metrics import landmark_nme
from .model import MOL, MOLLoss

SELECTION = ("val_loss", "val_acc")


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
    val_subjects: int = 1
    lambda_flow: float = 0.1
    lambda_landmark: float = 68.0
    select_on: str = "val_loss"
    amp: bool = True  # mixed precision, used on CUDA only
    seed: int = 0

    def __post_init__(self):
        if self.select_on not in SELECTION:
            raise ValueError(f"select_on must be one of {SELECTION}, got {self.select_on!r}")
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("steps, batch_size and eval_every must be positive")


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _batches(dataset: ClipDataset, batch_size: int, rng: np.random.Generator | None):
    """Batches over the dataset, shuffled when ``rng`` is given (one epoch)."""
    order = rng.permutation(len(dataset)) if rng is not None else np.arange(len(dataset))
    for start in range(0, len(order), batch_size):
        yield default_collate([dataset[int(i)] for i in order[start : start + batch_size]])


@torch.no_grad()
def predict_clips(model: MOL, dataset: ClipDataset, batch_size: int, device: torch.device) -> dict[str, np.ndarray]:
    """Per clip: ``logits`` [N,K]; ``flow_epe`` [N] and ``landmark_nme`` [N,T-1] where the heads exist."""
    model.eval()
    out: dict[str, list] = {"logits": [], "flow_epe": [], "landmark_nme": []}
    for batch in _batches(dataset, batch_size, None):
        batch = _to(batch, device)
        pred = model(batch["frames"])
        out["logits"].append(pred["logits"].float().cpu().numpy())
        if "flow" in pred:
            diff = (pred["flow"].float() - batch["flow"]).norm(dim=2)  # [B,T-1,H,W]
            out["flow_epe"].append(diff.mean(dim=(1, 2, 3)).cpu().numpy())
        if "landmarks" in pred:
            out["landmark_nme"].append(landmark_nme(pred["landmarks"].float().cpu().numpy(), batch["landmarks"].cpu().numpy()))
    return {k: np.concatenate(v) for k, v in out.items() if v}


def video_predictions(clips: pd.DataFrame, clip_out: dict[str, np.ndarray]) -> pd.DataFrame:
    """Average clip logits per video (and the auxiliary errors); one row per video."""
    frame = clips[["dataset", "subject", "video", "label"]].reset_index(drop=True).copy()
    logits = clip_out["logits"]
    rows = []
    for (dataset, subject, video), idx in frame.groupby(["dataset", "subject", "video"], sort=True).groups.items():
        idx = np.asarray(idx)
        mean_logits = logits[idx].mean(0)
        row = {"dataset": dataset, "subject": subject, "video": video, "label": int(frame.label[idx[0]]),
               "pred": int(mean_logits.argmax()), "logits": mean_logits.tolist(), "n_clips": len(idx)}
        row["flow_epe"] = float(clip_out["flow_epe"][idx].mean()) if "flow_epe" in clip_out else np.nan
        if "landmark_nme" in clip_out:
            nme = clip_out["landmark_nme"][idx]
            row["landmark_nme"], row["landmark_failure"] = float(nme.mean()), float((nme > 0.10).mean())
        else:
            row["landmark_nme"] = row["landmark_failure"] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def validate(model: MOL, dataset: ClipDataset, batch_size: int, device: torch.device) -> dict[str, float]:
    """Video-level cross-entropy and accuracy of clip-averaged logits."""
    videos = video_predictions(dataset.clips, predict_clips(model, dataset, batch_size, device))
    logits = torch.tensor(np.stack(videos.logits.to_numpy()), dtype=torch.float32)
    labels = torch.tensor(videos.label.to_numpy())
    return {"val_loss": float(torch.nn.functional.cross_entropy(logits, labels)),
            "val_acc": float((videos.pred == videos.label).mean())}


def mean_landmarks(dataset: ClipDataset) -> torch.Tensor:
    """Average centre-cropped landmark position over the training clips [68,2]."""
    shapes = [dataset.cache.get(r.store, r.flow)["landmarks"] for r in dataset.clips.drop_duplicates("store").itertuples()]
    offset = (144 - 128) / 2
    return torch.tensor(np.concatenate(shapes).mean(0) - offset, dtype=torch.float32)


def _better(metrics: dict, best: dict | None, select_on: str) -> bool:
    if best is None:
        return True
    if select_on == "val_acc":
        return (metrics["val_acc"], -metrics["val_loss"]) > (best["val_acc"], -best["val_loss"])
    return metrics["val_loss"] < best["val_loss"]


def fold_split(clips: pd.DataFrame, fold: str, settings: TrainSettings, test_clips: pd.DataFrame | None = None):
    """(train clips, validation clips, test clips, {train, validation, test: subjects})."""
    if test_clips is None:
        train_s, val_s, test_s = split_subjects(clips.subject.unique(), fold, settings.val_subjects, settings.seed)
        test = clips[clips.subject.isin(test_s)]
    else:
        train_s, val_s = split_validation(clips.subject.unique(), settings.val_subjects, settings.seed, fold)
        test_s, test = sorted(test_clips.subject.unique()), test_clips
    subjects = {"train": train_s, "validation": val_s, "test": test_s}
    return clips[clips.subject.isin(train_s)], clips[clips.subject.isin(val_s)], test, subjects


def train_fold(clips: pd.DataFrame, fold: str, out_dir: str | Path, class_names: list[str], settings: TrainSettings,
               model_options: dict, log=print, test_clips: pd.DataFrame | None = None) -> pd.DataFrame:
    """Train, select on validation, predict the test subject (or, with ``test_clips``, the
    test dataset); write the three outputs."""
    out_dir = Path(out_dir)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    device = pick_device()
    frames = len(clips.frames.iloc[0])
    train_clips, val_clips, test_clips, subjects = fold_split(clips, fold, settings, test_clips)
    if test_clips is not None and len(test_clips) and len(test_clips.frames.iloc[0]) != frames:
        raise MolError(f"fold {fold}: test clips have {len(test_clips.frames.iloc[0])} frames, training clips {frames}")
    cache = StoreCache()
    train_set = ClipDataset(train_clips, train=True, seed=settings.seed, cache=cache)
    val_set = ClipDataset(val_clips, train=False, cache=cache)
    test_set = ClipDataset(test_clips, train=False, cache=cache)
    if len(train_set) == 0:
        raise MolError(f"fold {fold}: no training clips")
    log(f"fold {fold}: {len(train_set)} training clips ({len(subjects['train'])} subjects), {len(val_set)} validation "
        f"clips ({', '.join(subjects['validation']) or 'none'}), {len(test_set)} test clips "
        f"({len(subjects['test'])} subjects); t={frames}; device {device}")

    if not model_options.get("mer_head", True):
        raise MolError("a fold is trained for recognition: mer_head: false is only for flow/landmark pre-training")
    model = MOL(len(class_names), frames=frames, **model_options).to(device)
    if model.landmarks is not None:
        model.landmarks.mean_shape.copy_(mean_landmarks(train_set).to(device))
    criterion = MOLLoss(settings.lambda_flow, settings.lambda_landmark)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    use_amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    log_rows, best, best_state, best_step = [], None, None, 0
    step, started, running = 0, time.perf_counter(), []
    while step < settings.steps:
        for batch in _batches(train_set, settings.batch_size, rng):
            model.train()
            batch = _to(batch, device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                outputs = model(batch["frames"])
            loss, terms = criterion(outputs, batch)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            running.append({"loss": float(loss.detach()), **terms})
            last = step == settings.steps
            row = None
            if step % settings.log_every == 0 or last or step % settings.eval_every == 0:
                row = {"step": step, **pd.DataFrame(running).mean().to_dict(), "lr": optimizer.param_groups[0]["lr"],
                       "val_loss": np.nan, "val_acc": np.nan, "seconds": time.perf_counter() - started}
                running = []
            if (step % settings.eval_every == 0 or last) and len(val_set):
                metrics = validate(model, val_set, settings.batch_size, device)
                row.update(metrics)
                if _better(metrics, best, settings.select_on):
                    best, best_step = metrics, step
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if row is not None:
                log_rows.append(row)
                val = f", val loss {row['val_loss']:.3f} acc {row['val_acc']:.2f}" if not np.isnan(row["val_loss"]) else ""
                log(f"fold {fold}: step {step}/{settings.steps} loss {row['loss']:.3f}{val} ({row['seconds']:.0f} s)")
            if last:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_step = step
    log(f"fold {fold}: selected step {best_step}" + (f" (validation {settings.select_on})" if best else " (no validation subjects: last step)"))

    predictions = video_predictions(test_set.clips, predict_clips(model, test_set, settings.batch_size, device))
    predictions.insert(0, "fold", fold)
    checkpoint = {"state_dict": model.state_dict(), "model_options": model_options, "num_classes": len(class_names),
                  "frames": frames, "class_names": list(class_names), "version": __version__, "fold": fold,
                  "step": best_step, "train_settings": asdict(settings),
                  "subjects": subjects}
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.pt") as tmp:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        Path(tmp).write_bytes(buffer.getvalue())
    write_csv(pd.DataFrame(log_rows), out_dir / "log.csv")
    write_parquet(predictions, out_dir / "predictions.parquet")
    acc = float((predictions.pred == predictions.label).mean()) if len(predictions) else float("nan")
    log(f"fold {fold}: test accuracy {acc:.2f} on {len(predictions)} videos -> {out_dir}")
    return predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", required=True, help="clip index of the training (and, for LOSO, test) dataset")
    parser.add_argument("--test-clips", default=None, help="cross-dataset protocol: clip index of the test dataset")
    parser.add_argument("--fold", required=True, help="the test subject")
    parser.add_argument("--out", required=True)
    parser.add_argument("--class-names", required=True, help="JSON list, in label order")
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
                   log=lambda m: print(m, flush=True), test_clips=test_clips)
    except (MolError, ValueError, TypeError) as error:
        print(f"error: fold {args.fold}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
