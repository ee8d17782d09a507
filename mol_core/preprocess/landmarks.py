"""dlib's 68-point shape predictor with sub-pixel read-out.

dlib returns whole pixels; on a 144-px face the rounding is as large as a micro-expression.
The predictor therefore runs on an ``upscale``-times enlarged patch around the face box, and
points are mapped back with the pixel-centre convention of ``cv2.resize``:
``x = (x_up + 0.5) / upscale - 0.5``.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .detector import Box, FaceDetector, build_detector
from .dlib_models import SHAPE_PREDICTOR_68, model_path


@functools.cache
def _predictor():
    import dlib

    return dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_68)))


def predict_landmarks(gray: np.ndarray, box: Box, upscale: int = 4) -> np.ndarray:
    """68 landmarks (float32 [68,2], x,y in pixels of ``gray``) for the face in ``box``."""
    import dlib

    left, top, right, bottom = box
    if upscale <= 1:
        shape = _predictor()(np.ascontiguousarray(gray), dlib.rectangle(*map(int, box)))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
    # Patch around the box with a margin, enlarged, so the predictor sees sub-pixel detail.
    width, height = right - left, bottom - top
    x0 = int(max(0, np.floor(left - 0.5 * width)))
    y0 = int(max(0, np.floor(top - 0.5 * height)))
    x1 = int(min(gray.shape[1], np.ceil(right + 0.5 * width)))
    y1 = int(min(gray.shape[0], np.ceil(bottom + 0.5 * height)))
    patch = gray[y0:y1, x0:x1]
    big = cv2.resize(patch, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)

    def up(v: float, origin: int) -> int:
        return int(round((v - origin + 0.5) * upscale - 0.5))

    rect = dlib.rectangle(up(left, x0), up(top, y0), up(right, x0), up(bottom, y0))
    shape = _predictor()(np.ascontiguousarray(big), rect)
    points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    points = (points + 0.5) / upscale - 0.5
    points += (x0, y0)
    return points.astype(np.float32)


def detect_landmarks(gray_uint8: np.ndarray, detector: FaceDetector | None = None, upscale: int = 4) -> np.ndarray | None:
    """Find the largest face in a whole grey image and return its 68 landmarks.

    Returns float32 [68,2] (x, y in pixels) or ``None`` when no face is found.
    """
    gray = _as_gray_uint8(gray_uint8)
    detector = detector or build_detector()
    boxes = detector.detect(gray)
    if not boxes:
        return None
    return predict_landmarks(gray, boxes[0], upscale=upscale)


def _as_gray_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim != 2:
        raise ValueError(f"expected an image [H,W] or [H,W,3], got shape {image.shape}")
    return image
