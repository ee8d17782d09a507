"""Face alignment: similarity transforms from five points (eye centres, nose tip 30, mouth
corners 48 and 54; box enlarged 2.5 times), as in the paper's pipeline.

A transform rotates the face so the eye centres lie on a horizontal line, takes the
bounding box of the five rotated points, enlarges its larger side ``box_enlarge`` times and
maps that square onto a ``size x size`` crop. ``preprocess.align`` says from which
landmarks (:data:`mol_core.store.keys.ALIGN_MODES`):

- ``per_frame``: each frame from its own landmarks (the paper, "similarity transformation to
  each frame", and the authors' code): rigid head motion leaves the crops, dlib's
  frame-to-frame jitter enters them;
- ``smoothed``: the per-video transform followed, frame by frame, by the head's own motion:
  a similarity fitted to the eight points no expression moves
  (:data:`mol_core.face68.RIGID`), smoothed over time (a Gaussian of ``align_sigma``
  frames). Head motion leaves, little jitter enters (eight points, smoothed), and an
  expression is not taken for head motion (the five points include the mouth corners);
- ``per_video``: one transform for all frames, from the landmarks of the frame where the
  face was found: no jitter, head motion stays.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..face68 import MOUTH_LEFT, MOUTH_RIGHT, NOSE_TIP, RIGID, eye_centres
from ..util.geometry import apply_affine, fit_similarity


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Left eye centre, right eye centre, nose tip, mouth corners: [...,5,2] from [...,68,2]."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim > 2:
        return np.stack([five_points(one) for one in landmarks])
    left, right = eye_centres(landmarks)
    return np.stack([left, right, landmarks[NOSE_TIP], landmarks[MOUTH_LEFT], landmarks[MOUTH_RIGHT]])


def transform_from_points(points: np.ndarray, size: int = 144, box_enlarge: float = 2.5) -> np.ndarray:
    """Similarity [2,3] from image pixels to the aligned ``size x size`` crop, from the five
    points [5,2] of :func:`five_points`."""
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


def alignment_transform(landmarks: np.ndarray, size: int = 144, box_enlarge: float = 2.5) -> np.ndarray:
    """Similarity [2,3] from image pixels to the aligned crop, from one frame's landmarks [68,2]."""
    return transform_from_points(five_points(landmarks), size, box_enlarge)


def smooth_in_time(values: np.ndarray, sigma: float) -> np.ndarray:
    """``values`` [T,...] filtered along time by a normalised Gaussian of ``sigma`` frames
    (truncated at 3 sigma; the ends see only the frames that exist, so a constant stays
    exactly constant and the first and last frames are not pulled towards zero)."""
    values = np.asarray(values, dtype=np.float64)
    if sigma <= 0 or len(values) < 2:
        return values.copy()
    radius = int(np.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    out = np.empty_like(values)
    n = len(values)
    for t in range(n):
        index = t + offsets
        keep = (index >= 0) & (index < n)
        weights = kernel[keep] / kernel[keep].sum()
        out[t] = np.tensordot(weights, values[index[keep]], axes=1)
    return out


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer`` after ``inner`` (both [2,3]) as one [2,3]."""
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]])


def frame_transforms(
    landmarks: np.ndarray, align: str, size: int = 144, box_enlarge: float = 2.5, sigma: float = 3.0, reference: int = 0
) -> np.ndarray:
    """Per-frame similarities [T,2,3] (frame -> crop) from each frame's landmarks [T,68,2]
    (frame pixels) for ``align`` ``per_frame`` (each frame's five points) or ``smoothed``
    (frame ``reference``'s five-point transform after each frame's rigid motion towards
    that frame, smoothed over ``sigma`` frames; module doc)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if align == "per_frame":
        return np.stack([alignment_transform(p, size, box_enlarge) for p in landmarks])
    if align != "smoothed":
        raise ValueError(f"frame_transforms: align must be per_frame or smoothed, got {align!r}")
    anchor = alignment_transform(landmarks[reference], size, box_enlarge)
    to_reference = np.stack([fit_similarity(p[RIGID], landmarks[reference][RIGID]) for p in landmarks])
    return np.stack([compose_affine(anchor, m) for m in smooth_in_time(to_reference, sigma)])


def warp_to_crop(gray: np.ndarray, transform: np.ndarray, size: int = 144) -> np.ndarray:
    """Apply the alignment transform to a grey uint8 image [H,W] -> [size,size]."""
    return cv2.warpAffine(gray, transform, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def transform_landmarks(landmarks: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Landmarks [...,68,2] through one transform [2,3] -> float32 crop pixels."""
    return apply_affine(transform, landmarks).astype(np.float32)
