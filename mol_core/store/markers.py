"""Preprocessing markers: the small JSON file a workflow job writes when a video's store and
flow are made (or the video is skipped). A marker is a claim about the cache; this module
says when the claim no longer holds, so the workflow can make the video again."""

from __future__ import annotations

import json
from pathlib import Path

from .zarr_store import flow_problem, store_status


def marker_problem(path: str | Path) -> str | None:
    """Why an existing marker no longer describes the cache (its store or flow is gone,
    partial or damaged: the cheap check), or None. An absent or unreadable marker is None
    here: the workflow makes or reports it anyway."""
    try:
        marker = json.loads(Path(path).read_text())
        store, flow, status = Path(marker["store"]), marker["flow"], marker["status"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    state, detail = store_status(store)
    if state == "invalid":
        return detail
    if status == "complete":
        if state != "complete":
            return f"{store}: the marker says complete, the store says skipped"
        return flow_problem(store, flow)
    return None
