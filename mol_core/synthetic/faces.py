"""Source photographs for the synthetic dataset, with their dlib landmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError
from ..face68 import eye_centres
from ..preprocess.landmarks import detect_landmarks

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class SourceFace:
    """One photograph: ``image`` float32 BGR [H,W,3] in [0,1], ``landmarks`` float64 [68,2]."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray


def eye_distance(landmarks: np.ndarray) -> float:
    left, right = eye_centres(landmarks)
    return float(np.linalg.norm(right - left))


def load_source_faces(faces_dir: str | Path, eye_distance_px: float) -> list[SourceFace]:
    """Load every photograph in ``faces_dir`` (sorted by name), find its landmarks, and
    shrink it (area filter) so its eye-centre distance is about ``eye_distance_px``."""
    faces_dir = Path(faces_dir)
    paths = sorted(p for p in faces_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if faces_dir.is_dir() else []
    if len(paths) < 2:
        raise DataError(f"{faces_dir}: need at least two face photographs (.jpg/.png), found {len(paths)}")
    faces = []
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{path}: cannot read this image")
        landmarks = detect_landmarks(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        if landmarks is None:
            raise DataError(f"{path}: dlib finds no face in this photograph")
        scale = eye_distance_px / eye_distance(landmarks)
        if scale < 1:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            landmarks = (landmarks + 0.5) * scale - 0.5
        faces.append(SourceFace(path.stem, bgr.astype(np.float32) / 255.0, landmarks.astype(np.float64)))
    return faces
