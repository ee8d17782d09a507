"""Face alignment: one similarity transform per video from five points, as in the paper's
pipeline (eye centres, nose tip 30, mouth corners 48 and 54; box enlarged 2.5 times).

The transform rotates the face so the eye centres lie on a horizontal line, takes the
bounding box of the five rotated points, enlarges its larger side ``box_enlarge`` times and
maps that square onto a ``size x size`` crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..face68 import MOUTH_LEFT, MOUTH_RIGHT, NOSE_TIP, eye_centres
from ..util.geometry import apply_affine


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Left eye centre, right eye centre, nose tip, mouth corners: [5,2] from [68,2]."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    left, right = eye_centres(landmarks)
    return np.stack([left, right, landmarks[NOSE_TIP], landmarks[MOUTH_LEFT], landmarks[MOUTH_RIGHT]])


def alignment_transform(landmarks: np.ndarray, size: int = 144, box_enlarge: float = 2.5) -> np.ndarray:
    """Similarity [2,3] from image pixels to the aligned ``size x size`` crop."""
    points = five_points(landmarks)
    dx, dy = points[1] - points[0]
    length = np.hypot(dx, dy)
    if length <= 0:
        raise ValueError("eye centres coincide; cannot align")
    cos, sin = dx / length, dy / length
    rotation = np.array([[cos, sin], [-sin, cos]])  # turns the eye line horizontal
    rotated = points @ rotation.T
    lo, hi = rotated.min(0), rotated.max(0)
    centre = (lo + hi) / 2
    half = 0.5 * box_enlarge * float((hi - lo).max())
    scale = (size - 1) / 2.0 / half
    linear = scale * rotation
    offset = (size - 1) / 2.0 - scale * centre
    return np.hstack([linear, offset[:, None]])


def warp_to_crop(gray: np.ndarray, transform: np.ndarray, size: int = 144) -> np.ndarray:
    """Apply the alignment transform to a grey uint8 image [H,W] -> [size,size]."""
    return cv2.warpAffine(gray, transform, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def transform_landmarks(landmarks: np.ndarray, transform: np.ndarray) -> np.ndarray:
    return apply_affine(transform, landmarks).astype(np.float32)
