"""The key of a training run's resume point (``resume.pt``) and reading it back, so a killed
job resumes only a run on the same data and settings, and a stale or corrupt file is ignored
with its reason instead of being trusted or crashing every rerun."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
import zarr

CLIP_COLUMNS = ["subject", "video", "label", "store", "flow", "clip", "frames", "pair_rows"]


def _store_fingerprint(path: str) -> object:
    """What a store was made from (its recorded source fingerprint, as JSON; None when
    unreadable), so a store rebuilt at the same path from other frames changes the key."""
    try:
        return zarr.open_group(str(path), mode="r").attrs.get("fingerprint")
    except Exception:  # noqa: BLE001 - an unreadable store is reported when it is read
        return None


def clips_digest(clips: pd.DataFrame) -> str:
    """Digest of a clip table's rows (labels, frames, pairs, stores) and of its stores' sources."""
    rows = [
        [str(v) if not isinstance(v, (list, tuple)) and not hasattr(v, "tolist") else list(map(int, v)) for v in row]
        for row in clips[CLIP_COLUMNS].itertuples(index=False)
    ]
    stores = {s: _store_fingerprint(s) for s in sorted(clips.store.unique())}
    return hashlib.sha256(json.dumps([rows, stores], sort_keys=True).encode()).hexdigest()


# Settings of how a run is scheduled and fed, not of what it learns: the same model either way.
NOT_IN_IDENTITY = ("folds_per_gpu", "host_memory_gb", "loader_workers")


def resume_key(settings, model_options: dict, fold: str, splits: dict[str, pd.DataFrame], init=None) -> str:
    """The run's identity: training settings (but :data:`NOT_IN_IDENTITY`), model options,
    fold, the digest of each split's clips (``splits``: name -> clip table) and the initial
    checkpoint (path, size, mtime)."""
    init_id = None
    if init is not None:
        info = os.stat(init)
        init_id = [str(init), info.st_size, info.st_mtime_ns]
    text = json.dumps(
        [
            {k: v for k, v in asdict(settings).items() if k not in NOT_IN_IDENTITY},
            model_options,
            fold,
            {k: clips_digest(v) for k, v in sorted(splits.items())},
            init_id,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_resume(path: str | Path, run_id: str, device) -> tuple[dict | None, str]:
    """(the saved resume point, "") when ``path`` belongs to run ``run_id``; else (None, why
    it is ignored)."""
    try:
        saved = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # noqa: BLE001 - a corrupt file is ignored, never fatal
        return None, f"it cannot be read ({error.__class__.__name__}: {str(error)[:120]})"
    if not isinstance(saved, dict) or not {"run_id", "model", "optimizer", "scaler", "state"} <= set(saved):
        return None, "it is not a resume point of this package"
    if saved["run_id"] != run_id:
        return None, "it belongs to another run (other clips, labels, stores or settings)"
    return saved, ""
