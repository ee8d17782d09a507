"""Preprocess one video into its store: align once, landmarks per frame, TV-L1 per pair."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from joblib import Parallel, delayed

from ..errors import DataError, NoFaceError
from ..sampling import Sampling
from .alignment import alignment_transform, transform_landmarks, warp_to_crop
from .detector import HogFaceDetector, build_detector
from .flow import tvl1_flow, tvl1_params
from .landmarks import predict_landmarks
from .store import write_skipped, write_store


@dataclass(frozen=True)
class PreprocessSettings:
    """The ``preprocess`` section of config.yaml; every field is part of the cache key."""

    size: int = 144  # aligned crop side, pixels
    box_enlarge: float = 2.5
    hog_upsample: int = 1  # for detection on the original frames
    cnn_fallback: bool = True  # dlib's CNN detector when HOG finds no face
    cnn_frames: int = 3  # frames the CNN detector tries
    landmark_upscale: int = 4  # predictor runs on an x4 patch for sub-pixel landmarks
    flow: dict = field(default_factory=dict)  # TV-L1 parameters (see preprocess.flow)
    flow_dtype: str = "float16"

    def __post_init__(self):
        tvl1_params(**self.flow)  # validates names
        if self.flow_dtype not in ("float16", "float32"):
            raise ValueError(f"flow_dtype must be float16 or float32, got {self.flow_dtype!r}")

    @classmethod
    def from_dict(cls, values: dict) -> "PreprocessSettings":
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def read_gray_frames(paths: list[str]) -> np.ndarray:
    """Grey uint8 [T,H,W]; DataError naming the first unreadable or mismatched file."""
    frames = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DataError(f"unreadable or missing frame file: {path}")
        if frames and image.shape != frames[0].shape:
            raise DataError(f"frame {path} is {image.shape[1]}x{image.shape[0]}, the video's first frame is "
                            f"{frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(image)
    return np.stack(frames)


def find_face(frames: np.ndarray, settings: PreprocessSettings) -> tuple[int, str, np.ndarray]:
    """(frame index, detector name, landmarks [68,2]) of the first frame with a face: HOG over
    the frames in order, then the CNN detector on the first ``cnn_frames``."""
    hog = HogFaceDetector(settings.hog_upsample)
    for index, frame in enumerate(frames):
        boxes = hog.detect(frame)
        if boxes:
            return index, hog.name, predict_landmarks(frame, boxes[0], settings.landmark_upscale)
    if settings.cnn_fallback:
        cnn = build_detector(settings.hog_upsample, cnn_fallback=True).detectors[-1]
        for index, frame in enumerate(frames[: settings.cnn_frames]):
            boxes = cnn.detect(frame)
            if boxes:
                return index, cnn.name, predict_landmarks(frame, boxes[0], settings.landmark_upscale)
    raise NoFaceError(f"no face found in any of the {len(frames)} frames")


def crop_landmarks(crops: np.ndarray, fallback_landmarks: np.ndarray, upscale: int) -> np.ndarray:
    """dlib landmarks [T,68,2] on aligned crops, all from one face box (found on the first
    crop, else the box of the transformed landmarks), so the box itself never jitters."""
    boxes = HogFaceDetector(0).detect(crops[0])
    if boxes:
        box = boxes[0]
    else:
        lo, hi = fallback_landmarks.min(0), fallback_landmarks.max(0)
        box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    return np.stack([predict_landmarks(crop, box, upscale) for crop in crops])


def compute_flows(crops: np.ndarray, pairs: list[tuple[int, int]], flow_params: dict, threads: int) -> np.ndarray:
    """TV-L1 for each pair, ``threads`` pairs at a time (OpenCV itself held to one thread)."""
    if not pairs:
        return np.zeros((0, 2) + crops.shape[1:], np.float32)
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        flows = Parallel(n_jobs=max(1, threads), backend="threading")(
            delayed(tvl1_flow)(crops[a], crops[b], **flow_params) for a, b in pairs
        )
    finally:
        cv2.setNumThreads(previous)
    return np.stack(flows)


def preprocess_video(
    frame_paths: list[str],
    out: str | Path,
    settings: PreprocessSettings,
    samplings: list[Sampling],
    source: dict,
    threads: int = 1,
) -> dict:
    """Write the store of one video to ``out``; a video that cannot be processed gets a
    skipped store with the reason. Returns a summary dict (``status``, timings, counts)."""
    started = time.perf_counter()
    attrs = {"source": {**source, "frames": [str(p) for p in frame_paths]}, "params": settings.to_dict(),
             "samplings": [s.name for s in samplings]}
    try:
        frames = read_gray_frames(frame_paths)
        shortest = min(s.frames for s in samplings)
        if len(frames) < shortest:
            raise DataError(f"only {len(frames)} frames, fewer than the clip length t={shortest}")
        detected_at, detector, landmarks = find_face(frames, settings)
    except DataError as error:
        write_skipped(out, str(error), attrs)
        return {"status": "skipped", "reason": str(error), "seconds": time.perf_counter() - started}
    transform = alignment_transform(landmarks, settings.size, settings.box_enlarge)
    crops = np.stack([warp_to_crop(f, transform, settings.size) for f in frames])
    crop_points = crop_landmarks(crops, transform_landmarks(landmarks, transform), settings.landmark_upscale)
    flow_started = time.perf_counter()
    flows = {}
    for sampling in samplings:
        pairs = sampling.pairs(len(frames))
        flows[sampling.name] = (np.array(pairs, np.int32).reshape(-1, 2),
                                compute_flows(crops, pairs, tvl1_params(**settings.flow), threads))
    flow_seconds = time.perf_counter() - flow_started
    attrs.update(
        transform=transform.tolist(),
        detection={"frame": int(detected_at), "detector": detector},
        frame_size=[int(frames.shape[2]), int(frames.shape[1])],
    )
    write_store(out, crops, crop_points, flows, attrs, settings.flow_dtype)
    return {
        "status": "complete",
        "frames": len(frames),
        "pairs": sum(len(p) for p, _ in flows.values()),
        "seconds": time.perf_counter() - started,
        "flow_seconds": flow_seconds,
    }
