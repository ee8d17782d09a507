"""Evaluate a model on clips: per-clip outputs, per-video predictions and errors.

Per video: clip logits averaged (``pred`` is their argmax); flow EPE of the flow head
against the TV-L1 pseudo-ground-truth and landmark NME against dlib (the targets it
learned from); on the synthetic dataset also against the exact ground truth
(``flow_epe_exact``, ``landmark_nme_exact``). All in the 128-pixel centre crop.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..clips.augment import centre_offset
from ..clips.data import CROP, ClipDataset
from ..metrics import landmark_nme
from ..model import MOL
from ..store.zarr_store import open_store

FAILURE_NME = 0.10


@functools.lru_cache(maxsize=64)
def _exact_truth(store_path: str):
    """The synthetic ground truth of a store's video in crop pixels, or None elsewhere:
    (all-pairs flow function, landmarks [T,68,2])."""
    from ..synthetic.layout import GROUND_TRUTH_DIR, load_ground_truth

    store = open_store(store_path)
    source = store.attrs["source"]
    first = Path(source["frames"][0])
    root = first.parents[2]
    if source.get("dataset") != "synthetic" or not (root / GROUND_TRUTH_DIR).is_dir():
        return None
    gt = load_ground_truth(root, source["subject"], source["video"])
    first_number = int(first.stem.removeprefix("img"))
    offset = int(np.flatnonzero(gt["frame_numbers"] == first_number)[0])
    return gt, offset, store.attrs["transform"], store["frames"].shape[0], store["frames"].shape[-1]


def exact_targets(store_path: str, frames: list[int]) -> dict[str, np.ndarray] | None:
    """Exact flow [T-1,2,128,128] of the clip's pairs and landmarks [T-1,68,2] of frames
    1..T-1, in the centre crop; None outside the synthetic dataset."""
    from ..synthetic.truth import ground_truth_in_crop

    found = _exact_truth(store_path)
    if found is None:
        return None
    gt, offset, transform, n_frames, side = found
    pairs = np.stack([frames[:-1], frames[1:]], 1)
    truth = ground_truth_in_crop(gt, transform, side, offset, n_frames, pairs)
    margin = centre_offset(side, CROP)
    return {"flow": truth["flow"][:, :, margin : margin + CROP, margin : margin + CROP],
            "landmarks": truth["landmarks"][np.asarray(frames[1:])] - margin}


@torch.no_grad()
def predict_clips(model: MOL, dataset: ClipDataset, batch_size: int, device: torch.device,
                  exact: bool = False) -> dict[str, np.ndarray]:
    """Per clip: ``logits`` [N,K] (if the MER head exists), ``flow_epe`` [N] (and
    ``flow_epe_zero`` [N], the EPE of predicting no motion),
    ``landmark_nme`` [N,T-1], and with ``exact`` their ``*_exact`` twins (NaN where there is
    no exact ground truth)."""
    model.eval()
    out: dict[str, list] = {}
    for start in range(0, len(dataset), batch_size):
        indices = range(start, min(start + batch_size, len(dataset)))
        batch = {k: v.to(device) for k, v in dataset.batch(indices).items()}
        pred = {k: v.float().cpu() for k, v in model(batch["frames"]).items()}
        if "logits" in pred:
            out.setdefault("logits", []).append(pred["logits"].numpy())
        if "flow" in pred:
            out.setdefault("flow_epe", []).append((pred["flow"] - batch["flow"].cpu()).norm(dim=2).mean(dim=(1, 2, 3)).numpy())
            # The baseline a flow head must beat: predicting no motion at all.
            out.setdefault("flow_epe_zero", []).append(batch["flow"].cpu().norm(dim=2).mean(dim=(1, 2, 3)).numpy())
        if "landmarks" in pred:
            out.setdefault("landmark_nme", []).append(landmark_nme(pred["landmarks"].numpy(), batch["landmarks"].cpu().numpy()))
        if exact:
            for k, i in enumerate(indices):
                row = dataset.clips.iloc[i]
                truth = exact_targets(row.store, [int(f) for f in row.frames])
                epe = nme = np.full(len(row.frames) - 1, np.nan)
                if truth is not None and "flow" in pred:
                    epe = np.linalg.norm(pred["flow"][k].numpy() - truth["flow"], axis=1).mean(axis=(1, 2))
                if truth is not None and "landmarks" in pred:
                    nme = landmark_nme(pred["landmarks"][k].numpy(), truth["landmarks"])
                out.setdefault("flow_epe_exact", []).append([epe.mean()])
                out.setdefault("landmark_nme_exact", []).append(nme[None])
    return {k: np.concatenate([np.asarray(x) for x in v]) for k, v in out.items()}


AUXILIARY_COLUMNS = ["flow_epe", "flow_epe_zero", "flow_epe_exact", "landmark_nme", "landmark_nme_exact", "landmark_failure"]


def video_predictions(clips: pd.DataFrame, clip_out: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per video: label, pred and mean ``logits`` (if any), ``n_clips`` and the mean
    auxiliary errors (NaN where a head or a ground truth is absent)."""
    frame = clips[["dataset", "subject", "video", "label"]].reset_index(drop=True)
    rows = []
    for (dataset, subject, video), idx in frame.groupby(["dataset", "subject", "video"], sort=True).groups.items():
        idx = np.asarray(idx)
        row = {"dataset": dataset, "subject": subject, "video": video, "label": int(frame.label[idx[0]]), "n_clips": len(idx)}
        if "logits" in clip_out:
            mean_logits = clip_out["logits"][idx].mean(0)
            row.update(pred=int(mean_logits.argmax()), logits=mean_logits.tolist())
        for name in ("flow_epe", "flow_epe_zero", "flow_epe_exact", "landmark_nme", "landmark_nme_exact"):
            row[name] = float(np.nanmean(clip_out[name][idx])) if name in clip_out and np.isfinite(clip_out[name][idx]).any() else np.nan
        nme = clip_out.get("landmark_nme")
        row["landmark_failure"] = float((nme[idx] > FAILURE_NME).mean()) if nme is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def validate(model: MOL, dataset: ClipDataset, batch_size: int, device: torch.device, lambda_flow: float,
             lambda_landmark: float) -> dict[str, float]:
    """Validation metrics: with the MER head, video-level cross-entropy of the clip-averaged
    logits (``val_loss``) and accuracy (``val_acc``); without it (pre-training), ``val_loss``
    is the weighted flow and landmark error."""
    videos = video_predictions(dataset.clips, predict_clips(model, dataset, batch_size, device))
    if "logits" in videos:
        logits = torch.tensor(np.stack(videos.logits.to_numpy()), dtype=torch.float32)
        labels = torch.tensor(videos.label.to_numpy())
        return {"val_loss": float(torch.nn.functional.cross_entropy(logits, labels)),
                "val_acc": float((videos.pred == videos.label).mean())}
    loss = lambda_flow * np.nan_to_num(videos.flow_epe.mean()) + lambda_landmark * np.nan_to_num(videos.landmark_nme.mean())
    return {"val_loss": float(loss), "val_acc": float("nan")}
