"""Cache keys and paths of the per-video stores (no heavy imports: the Snakefile uses it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def cache_key(params: dict) -> str:
    """Short stable hash of every parameter that changes a store's content."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def store_path(cache_dir: str | Path, dataset: str, key: str, subject: str, video: str) -> Path:
    """``{cache_dir}/{dataset}/{key}/{subject}/{video}.zarr``."""
    return Path(cache_dir) / dataset / key / subject / f"{video}.zarr"
