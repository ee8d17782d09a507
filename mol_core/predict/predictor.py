"""The public inference API: a trained MOL that classifies new videos.

>>> from mol_core import Predictor
>>> predictor = Predictor.from_checkpoint("results/synthetic_loso/folds/sub01/model.pt")
>>> result = predictor.predict("recording.mp4")            # or a folder of frames, a .zarr store
>>> result.predicted, result.probabilities                 # ('repression', {'happiness': 0.01, ...})
>>> [clip.probabilities for clip in result.clips]

Each video goes through the pipeline's own preprocessing with the settings the model was
trained with (alignment, dlib landmarks, TV-L1 flow; recorded in the checkpoint), is cut
into clips like the training videos, and every clip is classified on the centre crop.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..clips.augment import augment
from ..clips.index import video_clips
from ..clips.preparation import Preparation
from ..clips.sampling import Sampling
from ..errors import CheckpointError, ConfigError, DataError, MolError
from ..model import Checkpoint
from ..preprocess import build_flow, build_store, open_store
from ..store.keys import PreprocessSettings, cache_key
from ..store.zarr_store import store_status
from ..util.crop import CROP
from ..util.device import pick_device
from ..util.video_io import image_files, is_video_file, video_frame_refs


@dataclass(frozen=True, eq=False)
class ClipPrediction:
    """One clip of a video: its number, its frames (0-based positions in the input video),
    the model's outputs and what they are computed from, in the 128-pixel centre crop."""

    clip: int
    frames: tuple[int, ...]
    logits: np.ndarray  # float32 [K]
    probabilities: dict[str, float]  # softmax of the logits, by class name
    predicted: str
    crops: np.ndarray  # uint8 [t,128,128]: the aligned grey frames the model saw
    tvl1: np.ndarray  # float32 [t-1,2,128,128]: TV-L1 flow of the frame pairs (pixels)
    flow: np.ndarray | None  # float32 [t-1,2,128,128]: the flow head's flow (None without a flow head)
    landmarks: np.ndarray | None  # float32 [t-1,68,2]: the landmark head's points, frames 1..t-1 (None without it)

    @property
    def confidence(self) -> float:
        return max(self.probabilities.values())

    def to_dict(self) -> dict:
        return {"clip": self.clip, "frames": list(self.frames), "probabilities": dict(self.probabilities), "predicted": self.predicted}


@dataclass(frozen=True, eq=False)
class VideoPrediction:
    """A video's classification: ``probabilities`` (softmax of the mean clip logits, by class
    name, in the model's class order) and ``predicted``, every clip's, and which frames were
    used (``frames_used``: first and last position, inclusive, of ``frames_total``)."""

    input: str
    class_names: tuple[str, ...]
    frames_total: int
    frames_used: tuple[int, int]
    clips: tuple[ClipPrediction, ...]
    probabilities: dict[str, float]
    predicted: str

    @property
    def most_confident_clip(self) -> ClipPrediction:
        return max(self.clips, key=lambda clip: clip.confidence)

    def to_dict(self) -> dict:
        """JSON-ready: input, frames_total, frames_used, clips (clip, frames, probabilities,
        predicted) and video (probabilities, predicted)."""
        return {
            "input": self.input,
            "frames_total": self.frames_total,
            "frames_used": list(self.frames_used),
            "clips": [clip.to_dict() for clip in self.clips],
            "video": {"probabilities": dict(self.probabilities), "predicted": self.predicted},
        }


def checkpoint_preparation(checkpoint: Checkpoint) -> Preparation:
    """The preprocessing and clip sampling the model was trained with; for a checkpoint made
    outside the workflow that records none, the default preprocessing and uniform clips of
    its length. CheckpointError when the record does not fit the model."""
    if not checkpoint.preparation:
        return Preparation(PreprocessSettings(), Sampling(checkpoint.frames))
    try:
        preparation = Preparation.from_dict(checkpoint.preparation)
    except ConfigError as error:
        raise CheckpointError(f"{checkpoint.where}: its preparation record is not valid: {error}") from None
    if preparation.sampling.frames != checkpoint.frames:
        raise CheckpointError(f"{checkpoint.where}: for {checkpoint.frames}-frame clips but records sampling {preparation.sampling.name}")
    return preparation


def input_frames(path: Path) -> list[str]:
    """Frame references of a video file (``video::index``) or the image files of a folder."""
    if is_video_file(path):
        return video_frame_refs(path)
    if path.is_dir():
        frames = [str(f) for f in image_files(path)]
        if not frames:
            raise DataError(f"{path}: no image files in this folder")
        return frames
    raise DataError(f"{path}: not a video file OpenCV reads, a folder of frames or a .zarr store")


def _probabilities(logits: np.ndarray, names: tuple[str, ...]) -> tuple[dict[str, float], str]:
    probabilities = torch.softmax(torch.from_numpy(np.asarray(logits, np.float32)), 0).numpy()
    return dict(zip(names, map(float, probabilities), strict=True)), names[int(probabilities.argmax())]


class Predictor:
    """A trained MOL classifier of videos (see the module's docstring).

    ``device``: default CUDA when present, else CPU; ``cache_dir``: where the preprocessing
    of each input is kept (reused only while the input's files keep their size and
    modification time; default: a temporary folder removed with the predictor);
    ``threads``: TV-L1 pairs computed at once.
    """

    def __init__(self, checkpoint: Checkpoint, device: str | torch.device | None = None, cache_dir: str | Path | None = None, threads: int = 1):
        if not checkpoint.has_mer_head:
            raise CheckpointError(f"{checkpoint.where}: a pre-training checkpoint (no MER head) cannot classify videos")
        self.checkpoint = checkpoint
        self.device = torch.device(device) if device is not None else pick_device()
        self.model = checkpoint.build_model(self.device)
        preparation = checkpoint_preparation(checkpoint)
        self.settings, self.sampling = preparation.preprocess, preparation.sampling
        self.threads = threads
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="mol-predict-")
            self.cache_dir = Path(self._temporary.name)
        else:
            self.cache_dir = Path(cache_dir)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device | None = None, cache_dir: str | Path | None = None, threads: int = 1
    ) -> Predictor:
        """A predictor from a ``model.pt`` of the workflow (CheckpointError naming the file
        for a missing, unreadable, incompatible or pre-training checkpoint)."""
        return cls(Checkpoint.load(path), device, cache_dir, threads)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.checkpoint.class_names

    @property
    def draws(self) -> bool:
        """Whether the model has the flow and landmark heads that the pictures show."""
        return self.model.flow is not None and self.model.landmarks is not None

    def description(self) -> dict:
        """The model and configuration used (JSON-ready)."""
        checkpoint = self.checkpoint
        return {
            "checkpoint": checkpoint.where,
            "version": checkpoint.version,
            "class_names": list(checkpoint.class_names),
            "frames": checkpoint.frames,
            "options": checkpoint.model_options,
            "fold": checkpoint.fold,
            "step": checkpoint.step,
            "preprocess": self.settings.to_dict(),
            "sampling": self.sampling.name,
        }

    def predict(
        self, video_or_frames: str | Path | Sequence[str | Path], onset: int | None = None, offset: int | None = None, apex: int | None = None
    ) -> VideoPrediction:
        """Classify one video: a video file OpenCV reads, a folder of frame images, a list of
        frame image files (in order) or a preprocessing store (``.zarr``). ``onset`` and
        ``offset`` (0-based positions, inclusive) select part of a video, ``apex`` gives the
        apex for onset+apex models. DataError naming the input when it cannot be read, has
        no face, or is shorter than the model's clips."""
        store, start, n_total, name = self._prepare(video_or_frames, onset, offset)
        apex_index = None if apex is None else apex - start
        made = build_flow(store, self.sampling, self.settings, self.threads, apex_index)
        if not made.complete:  # e.g. too short for one clip
            raise DataError(f"{name}: {made.reason} (the model takes {self.sampling.name} clips)")
        opened = open_store(store)
        crops, landmarks = opened["frames"][:], opened["landmarks"][:]
        flows = opened[f"flow/{made.flow}"][:].astype(np.float32)
        clips = tuple(
            self._classify(k, [int(c) + start for c in clip], crops[clip], flows[rows], landmarks[clip[1:]])
            for k, (clip, rows) in enumerate(video_clips(opened, self.sampling, made.flow, apex_index))
        )
        probabilities, predicted = _probabilities(np.mean([c.logits for c in clips], 0), self.class_names)
        return VideoPrediction(name, self.class_names, n_total or len(crops), (start, start + len(crops) - 1), clips, probabilities, predicted)

    def _prepare(self, source, onset: int | None, offset: int | None) -> tuple[Path, int, int | None, str]:
        """(the input's store, its first frame's position, the input's frame count (None for
        a store: all of it), the input's name)."""
        if isinstance(source, (str, Path)) and Path(source).suffix == ".zarr":
            store = Path(source)
            if store_status(store)[0] != "complete":
                raise DataError(f"{store}: not a complete preprocessing store")
            if onset or offset is not None:
                raise MolError(f"{store}: onset/offset select frames of videos, not of stores")
            return store, 0, None, str(store)
        identity: str | list[str]  # what the input is read from, for the cache key
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.exists():
                raise DataError(f"{path}: no such video file or folder")
            frames, name, identity, stem = input_frames(path), str(path), str(path.resolve()), path.stem
        else:
            frames = [str(f) for f in source]
            if not frames:
                raise DataError("no frames given")
            name, stem = str(Path(frames[0]).parent), Path(frames[0]).parent.name
            identity = [str(Path(f).resolve()) for f in frames]
        start, stop = onset or 0, offset if offset is not None else len(frames) - 1
        if not 0 <= start <= stop < len(frames):
            raise DataError(f"{name}: frames {start}..{stop} are outside its {len(frames)} frames")
        key = cache_key({"input": identity, "frames": [start, stop], "store": self.settings.store_params()})
        store = self.cache_dir / f"{stem or 'frames'}-{key}.zarr"
        made = build_store(frames[start : stop + 1], store, self.settings, {"input": name})
        if not made.complete:
            raise DataError(f"{name}: {made.reason}")
        return store, start, len(frames), name

    def _classify(self, number: int, frames: list[int], crops: np.ndarray, flows: np.ndarray, landmarks: np.ndarray) -> ClipPrediction:
        """One clip of aligned frames [t,S,S], its TV-L1 flows and dlib landmarks, on the centre crop."""
        crops, tvl1, _ = augment(crops, flows, landmarks, CROP, None)
        x = torch.from_numpy(np.ascontiguousarray(crops, np.float32) / 255.0)[None, None].to(self.device)
        with torch.no_grad():
            out = {key: value[0].float().cpu().numpy() for key, value in self.model(x).items()}
        probabilities, predicted = _probabilities(out["logits"], self.class_names)
        return ClipPrediction(number, tuple(frames), out["logits"], probabilities, predicted, crops, tvl1, out.get("flow"), out.get("landmarks"))
