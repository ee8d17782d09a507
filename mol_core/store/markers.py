"""Preprocessing markers: the small JSON file a workflow job writes when a video's store and
flow are made (or the video is skipped). A marker is a claim about the cache; this module
is its one writer (:meth:`Marker.write`) and reader (:meth:`Marker.read`), and says when the
claim no longer holds (:func:`marker_problem`), so the workflow can make the video again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import DataError
from ..util.atomic import write_text
from .keys import marker_path
from .zarr_store import flow_problem, store_status

STATUSES = ("complete", "skipped")


@dataclass(frozen=True)
class Marker:
    """What preprocessing made of one video: ``status`` (complete or skipped, with the
    ``reason``), its ``store`` (path), the ``flow`` (its name in the store) of the clip
    sampling and its number of ``pairs``."""

    subject: str
    video: str
    status: str
    store: str
    flow: str
    reason: str = ""
    pairs: int = 0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise DataError(f"marker of {self.subject}/{self.video}: status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def write(self, path: str | Path) -> Path:
        """Write it (whole or not at all) as JSON at ``path``."""
        write_text(path, json.dumps(asdict(self), indent=1))
        return Path(path)

    @classmethod
    def read(cls, path: str | Path) -> Marker:
        """The marker at ``path``; DataError naming it when it is missing or unreadable."""
        try:
            fields = json.loads(Path(path).read_text())
            return cls(
                **{k: fields[k] for k in ("subject", "video", "status", "store", "flow")},
                reason=fields.get("reason", ""),
                pairs=int(fields.get("pairs", 0)),
            )
        except FileNotFoundError:
            raise DataError(f"{path}: preprocessing marker missing; run preprocessing first") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: unreadable preprocessing marker ({error.__class__.__name__})") from None


def markers_in(folder: str | Path):
    """``marker_of(subject, video)``: the :class:`Marker` of a video in a preprocessing marker
    folder (``{folder}/{subject}/{video}.json``, the video's :func:`~mol_core.store.keys.entry_name`)."""
    return lambda subject, video: Marker.read(marker_path(Path(folder) / str(subject), video))


def marker_problem(path: str | Path) -> str | None:
    """Why an existing marker no longer describes the cache (its store or flow is gone,
    partial or damaged: the cheap check), or None. An absent or unreadable marker is None
    here: the workflow makes or reports it anyway."""
    try:
        marker = Marker.read(path)
    except DataError:
        return None
    state, detail = store_status(marker.store)
    if state == "invalid":
        return detail
    if marker.complete:
        if state != "complete":
            return f"{marker.store}: the marker says complete, the store says skipped"
        return flow_problem(marker.store, marker.flow)
    return None
