"""Evaluate a model on clips: per-clip outputs, per-video predictions and errors.

Per video: clip logits averaged (``pred`` is their argmax); flow EPE of the flow head
against the TV-L1 pseudo-ground-truth and landmark NME against dlib (the targets it
learned from), each beside its trivial baseline (no motion; the training set's mean shape);
on the synthetic dataset also against the exact ground truth, with the teachers' own
errors. All in the 128-pixel centre crop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..clips.augment import centre_offset
from ..clips.data import ClipBatches
from ..clips.targets import exact_truth
from ..metrics import FLOW_ERRORS, LANDMARK_ERRORS, LANDMARK_FAILURES, failure_rate, landmark_nme
from ..model import MOL
from ..util.crop import CROP
from ..util.device import to_device


def exact_targets(truth: str | None, onset: int, store_path: str, frames: list[int]) -> dict[str, np.ndarray] | None:
    """Exact flow [T-1,2,128,128] of the clip's pairs and landmarks [T-1,68,2] of frames
    1..T-1, in the centre crop, from the clip index's ``truth`` file and ``onset``; None
    where there is no exact truth (``truth`` None: outside the synthetic dataset)."""
    from ..synthetic.truth import ground_truth_in_crop

    if truth is None or pd.isna(truth):
        return None
    gt, offset, transforms, n_frames, side = exact_truth(str(truth), int(onset), str(store_path))
    pairs = np.stack([frames[:-1], frames[1:]], 1)
    exact = ground_truth_in_crop(gt, transforms, side, offset, n_frames, pairs)
    margin = centre_offset(side, CROP)
    return {
        "flow": exact["flow"][:, :, margin : margin + CROP, margin : margin + CROP],
        "landmarks": exact["landmarks"][np.asarray(frames[1:])] - margin,
    }


def _epe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean end-point error per clip, flows [N,T-1,2,H,W] -> [N]."""
    return np.linalg.norm(pred - target, axis=-3).mean(axis=(-3, -2, -1))


@torch.no_grad()
def predict_clips(model: MOL, dataset: ClipBatches, batch_size: int, device: torch.device, exact: bool = False) -> dict[str, np.ndarray]:
    """Per clip of ``dataset`` (centre crops, cut per clip or on the device), against the
    targets the heads learn from (TV-L1 flow, dlib landmarks): ``logits`` [N,K] (with the
    MER head); ``flow_epe`` [N] and its baseline ``flow_epe_zero`` (predicting no motion);
    ``landmark_nme`` [N,T-1] and its baseline ``landmark_nme_mean_shape`` (the head's mean
    shape, the training set's average placed where the head places it). With ``exact`` (the
    synthetic set; NaN elsewhere), the same against the exact truth (``*_exact``), and the
    teachers' own errors against it (``flow_epe_tvl1_exact``, ``landmark_nme_dlib_exact``). NME normalised by the eye-centre
    distance (the authors' definition)."""
    model.eval()
    out: dict[str, list] = {}

    def add(name: str, value) -> None:
        out.setdefault(name, []).append(np.asarray(value))

    for start in range(0, len(dataset), batch_size):
        indices = range(start, min(start + batch_size, len(dataset)))
        batch = {k: to_device(v, device) for k, v in dataset.batch(indices).items()}
        pred = {k: v.float().cpu().numpy() for k, v in model(batch["frames"]).items()}
        flow_target, landmark_target = batch["flow"].cpu().numpy(), batch["landmarks"].cpu().numpy()
        mean_shape = model.landmarks.mean_shape.cpu().numpy() if model.landmarks is not None else None
        if "logits" in pred:
            add("logits", pred["logits"])
        if "flow" in pred:
            add("flow_epe", _epe(pred["flow"], flow_target))
            add("flow_epe_zero", _epe(np.zeros_like(flow_target), flow_target))
        if "landmarks" in pred:
            assert mean_shape is not None  # landmarks come from the landmark head
            add("landmark_nme", landmark_nme(pred["landmarks"], landmark_target))
            add("landmark_nme_mean_shape", landmark_nme(np.broadcast_to(mean_shape, landmark_target.shape), landmark_target))
        if not exact:
            continue
        for k, i in enumerate(indices):
            row = dataset.clips.iloc[i]
            truth = exact_targets(row.truth, row.onset, row.store, [int(f) for f in row.frames])
            missing = np.full(len(row.frames) - 1, np.nan)
            if "flow" in pred:
                for name, flow in (
                    ("flow_epe_exact", pred["flow"][k]),
                    ("flow_epe_zero_exact", np.zeros_like(flow_target[k])),
                    ("flow_epe_tvl1_exact", flow_target[k]),
                ):
                    add(name, [_epe(flow, truth["flow"]) if truth is not None else np.nan])
            if "landmarks" in pred:
                assert mean_shape is not None
                for name, shape in (
                    ("landmark_nme_exact", pred["landmarks"][k]),
                    ("landmark_nme_dlib_exact", landmark_target[k]),
                    ("landmark_nme_mean_shape_exact", np.broadcast_to(mean_shape, landmark_target[k].shape)),
                ):
                    add(name, landmark_nme(shape, truth["landmarks"])[None] if truth is not None else missing[None])
    return {k: np.concatenate(v) for k, v in out.items()}


def video_predictions(clips: pd.DataFrame, clip_out: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per video: label, pred and mean ``logits`` (if any), ``n_clips`` and the mean
    auxiliary errors of :data:`mol_core.metrics.FLOW_ERRORS` and ``LANDMARK_ERRORS`` (NaN
    where a head or a ground truth is absent); failure rates are the share of frames with
    NME > 10%."""
    frame = clips[["dataset", "subject", "video", "label"]].reset_index(drop=True)
    rows = []
    for (dataset, subject, video), idx in frame.groupby(["dataset", "subject", "video"], sort=True).groups.items():
        idx = np.asarray(idx)
        row = {"dataset": dataset, "subject": subject, "video": video, "label": int(frame.label[idx[0]]), "n_clips": len(idx)}
        if "logits" in clip_out:
            mean_logits = clip_out["logits"][idx].mean(0)
            row.update(pred=int(mean_logits.argmax()), logits=mean_logits.tolist())
        for name in FLOW_ERRORS + LANDMARK_ERRORS:
            row[name] = float(np.nanmean(clip_out[name][idx])) if name in clip_out and np.isfinite(clip_out[name][idx]).any() else np.nan
        for name, source in LANDMARK_FAILURES.items():
            nme = clip_out.get(source)
            row[name] = failure_rate(nme[idx]) if nme is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def validate(
    model: MOL, dataset: ClipBatches, batch_size: int, device: torch.device, lambda_flow: float, lambda_landmark: float
) -> dict[str, float]:
    """Validation metrics: with the MER head, video-level cross-entropy of the clip-averaged
    logits (``val_loss``) and accuracy (``val_acc``); without it (pre-training), ``val_loss``
    is the weighted flow and landmark error."""
    videos = video_predictions(dataset.clips, predict_clips(model, dataset, batch_size, device))
    if "logits" in videos:
        logits = torch.tensor(np.stack(videos.logits.to_numpy()), dtype=torch.float32)
        labels = torch.tensor(videos.label.to_numpy())
        return {"val_loss": float(torch.nn.functional.cross_entropy(logits, labels)), "val_acc": float((videos.pred == videos.label).mean())}
    loss = lambda_flow * np.nan_to_num(videos.flow_epe.mean()) + lambda_landmark * np.nan_to_num(videos.landmark_nme.mean())
    return {"val_loss": float(loss), "val_acc": float("nan")}
