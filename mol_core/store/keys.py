"""Cache keys and paths of the per-video stores, and the preprocessing parameters that key
them (no heavy imports: the Snakefile uses it)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..util.settings import from_fields

if TYPE_CHECKING:
    from ..clips.sampling import Sampling


def cache_key(params: dict) -> str:
    """Short stable hash of every parameter that changes a store's content."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def store_path(cache_dir: str | Path, dataset: str, key: str, subject: str, video: str) -> Path:
    """``{cache_dir}/{dataset}/{key}/{subject}/{video}.zarr``."""
    return video_store(Path(cache_dir) / dataset / key, subject, video)


# File names are at most 255 bytes; a store's temporary and lock add about 50 to its name.
LONGEST_NAME = 120


def entry_name(video: str) -> str:
    """The name a video's cache entries (store, marker) are filed under: the video's own, or
    for a name longer than LONGEST_NAME bytes its first 80 characters and a digest of the
    whole (one file system limit less to meet; two long names never share an entry)."""
    if len(video.encode()) <= LONGEST_NAME:
        return video
    return f"{video[:80]}-{hashlib.sha256(video.encode()).hexdigest()[:16]}"


def video_store(stores: str | Path, subject: str, video: str) -> Path:
    """A video's store in the folder of one dataset and key: ``{stores}/{subject}/{video}.zarr``
    (:func:`entry_name` of the video)."""
    return Path(stores) / subject / f"{entry_name(video)}.zarr"


def marker_path(folder: str | Path, video: str) -> Path:
    """A video's preprocessing marker in its subject's marker folder: ``{folder}/{video}.json``
    (:func:`entry_name` of the video)."""
    return Path(folder) / f"{entry_name(video)}.json"


SOURCE_ROW = ("onset", "apex", "offset")  # the coding row's fields that change a store


def plain(value):
    """A JSON-stable scalar: pandas' NA and NaN -> None, numpy integers -> int."""
    if value is None or str(value) in ("<NA>", "nan", "NaT"):
        return None
    return int(value) if hasattr(value, "__index__") else value


def source_fingerprint(frames: list[str], row: dict | None = None) -> str:
    """Digest of what a store is made from: each frame file's path, size and modification time
    (for ``video::index`` references, the video file's) and the video's coding row
    (``onset``, ``apex``, ``offset`` of ``row``; other keys are ignored). Paths count as
    absolute, so workflows in other folders sharing a cache agree. A replaced or
    touched frame, a missing one, or an edited frame number gives another digest. Costs one
    ``stat`` per distinct file."""
    stats: dict[str, list | None] = {}
    entries = []
    for ref in map(str, frames):
        path = os.path.abspath(ref.rsplit("::", 1)[0] if "::" in ref else ref)
        if path not in stats:
            try:
                info = os.stat(path)
                stats[path] = [info.st_size, info.st_mtime_ns]
            except OSError:
                stats[path] = None
        entries.append([os.path.abspath(ref), stats[path]])
    coding = {k: plain((row or {}).get(k)) for k in SOURCE_ROW}
    text = json.dumps({"frames": entries, "row": coding}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# cv2.optflow.DualTVL1OpticalFlow.create's own defaults, under the names used in config.yaml.
TVL1_DEFAULTS = {
    "tau": 0.25,
    "lambda": 0.15,
    "theta": 0.3,
    "nscales": 5,
    "warps": 5,
    "epsilon": 0.01,
    "inner_iterations": 30,
    "outer_iterations": 10,
    "scale_step": 0.8,
    "gamma": 0.0,
    "median_filtering": 5,
}


def tvl1_params(**params) -> dict:
    """Defaults overridden by ``params``; unknown names are an error."""
    unknown = set(params) - set(TVL1_DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown TV-L1 parameters {sorted(unknown)}; known: {', '.join(TVL1_DEFAULTS)}")
    return {**TVL1_DEFAULTS, **params}


FLOW_FIELDS = ("flow", "flow_dtype")
# Where each frame's alignment comes from (mol_core.preprocess.alignment): the paper's and
# the authors' per_frame first.
ALIGN_MODES = ("per_frame", "smoothed", "per_video")


@dataclass(frozen=True)
class PreprocessSettings:
    """The ``preprocess`` section of config.yaml. The flow fields key the flow only, so
    changing them recomputes flow and nothing else."""

    size: int = 144  # aligned crop side, pixels
    box_enlarge: float = 2.5
    hog_upsample: int = 1  # for detection on the original frames
    cnn_fallback: bool = True  # dlib's CNN detector when HOG finds no face
    cnn_frames: int = 3  # frames the CNN detector tries
    landmark_upscale: int = 4  # predictor runs on an x4 patch for sub-pixel landmarks
    align: str = "per_frame"  # one of ALIGN_MODES
    align_sigma: float = 3.0  # align: smoothed, the Gaussian's sigma in frames
    flow: dict = field(default_factory=dict)  # TV-L1 parameters (see preprocess.flow)
    flow_dtype: str = "float16"

    def __post_init__(self):
        tvl1_params(**self.flow)  # validates names
        if self.flow_dtype not in ("float16", "float32"):
            raise ConfigError(f"flow_dtype must be float16 or float32, got {self.flow_dtype!r}")
        if self.align not in ALIGN_MODES:
            raise ConfigError(f"preprocess.align must be one of {', '.join(ALIGN_MODES)}, got {self.align!r}")
        if self.align_sigma <= 0:
            raise ConfigError(f"preprocess.align_sigma must be positive (frames), got {self.align_sigma!r}")

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessSettings:
        """From the ``preprocess`` section of config.yaml (ConfigError for unknown keys)."""
        return from_fields(cls, values, "preprocess settings")

    def to_dict(self) -> dict:
        return asdict(self)

    def store_params(self) -> dict:
        """Every parameter that changes frames and landmarks (the store's cache key;
        ``align_sigma`` only where it is used)."""
        unused = () if self.align == "smoothed" else ("align_sigma",)
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in FLOW_FIELDS + unused}

    def flow_params(self) -> dict:
        """Every parameter that changes the flow, OpenCV's defaults spelled out."""
        return {"tvl1": tvl1_params(**self.flow), "dtype": self.flow_dtype}


def flow_name(sampling: Sampling, settings: PreprocessSettings) -> str:
    """Name of a flow inside a store: the sampling and a hash of the flow parameters."""
    return f"{sampling.name}-{cache_key(settings.flow_params())[:8]}"
