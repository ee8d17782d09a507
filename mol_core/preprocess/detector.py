"""Face detectors behind one small interface: HOG first, dlib's CNN detector as fallback.

A detector maps a grey uint8 image [H,W] to face boxes ``(left, top, right, bottom)`` in
pixels, largest first.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .dlib_models import CNN_FACE_DETECTOR, model_path

Box = tuple[float, float, float, float]


class FaceDetector(Protocol):
    name: str

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Face boxes in ``gray`` (uint8 [H,W]), largest first; empty if none."""


def _largest_first(boxes: Sequence[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


@functools.cache
def _hog_model():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.cache
def _cnn_model():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model_path(CNN_FACE_DETECTOR)))


class HogFaceDetector:
    """dlib's frontal (HOG + linear SVM) detector; ``upsample`` doubles the image that often."""

    name = "hog"

    def __init__(self, upsample: int = 0):
        self.upsample = int(upsample)

    def detect(self, gray: np.ndarray) -> list[Box]:
        rects = _hog_model()(np.ascontiguousarray(gray), self.upsample)
        return _largest_first([(r.left(), r.top(), r.right(), r.bottom()) for r in rects])


class CnnFaceDetector:
    """dlib's MMOD CNN detector (slower, finds faces HOG misses)."""

    name = "cnn"

    def __init__(self, upsample: int = 0):
        self.upsample = int(upsample)

    def detect(self, gray: np.ndarray) -> list[Box]:
        dets = _cnn_model()(np.ascontiguousarray(gray), self.upsample)
        return _largest_first([(d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()) for d in dets])


class FallbackFaceDetector:
    """Try each detector in turn; the first that finds a face wins."""

    def __init__(self, detectors: Sequence[FaceDetector]):
        self.detectors = list(detectors)
        self.name = "+".join(d.name for d in self.detectors)

    def detect(self, gray: np.ndarray) -> list[Box]:
        for detector in self.detectors:
            boxes = detector.detect(gray)
            if boxes:
                return boxes
        return []


def build_detector(hog_upsample: int = 1, cnn_fallback: bool = True) -> FallbackFaceDetector:
    detectors: list[FaceDetector] = [HogFaceDetector(hog_upsample)]
    if cnn_fallback:
        detectors.append(CnnFaceDetector(0))
    return FallbackFaceDetector(detectors)
