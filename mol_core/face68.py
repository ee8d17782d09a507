"""Facts of the 68-point facial landmark scheme (iBUG 300-W numbering, 0-based)."""

from __future__ import annotations

import numpy as np

JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
LEFT_EYE = slice(36, 42)  # the eye on the image's left
RIGHT_EYE = slice(42, 48)
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 36, 45
NOSE_TIP = 30
MOUTH_LEFT, MOUTH_RIGHT = 48, 54
# Points that no expression moves much: the nose bridge and tip (27-30) and the four eye
# corners (eyelids, brows, nose wings, lips and jaw all move with action units).
RIGID = np.array([27, 28, 29, 30, 36, 39, 42, 45])

# Index of each point's mirror image under a left-right flip.
MIRROR = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # brows
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner lips
)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the left (36-41) and right (42-47) eye, each [...,2]."""
    return landmarks[..., LEFT_EYE, :].mean(-2), landmarks[..., RIGHT_EYE, :].mean(-2)


# How an inter-ocular distance is measured (the NME's normaliser, eq. 8): between the eye
# centres (mean of 36-41 and 42-47), as the authors' code computes it and so as the paper's
# Table 15 reports it; or between the outer eye corners 36 and 45 (300-W's convention).
# On the synthetic faces the corner distance is about 1.39x the centre distance.
NORMALISERS = ("eye_centres", "outer_corners")


def interocular_distance(landmarks, normaliser: str = "eye_centres"):
    """[...,68,2] (numpy or torch) -> [...] distances in the landmarks' units."""
    if normaliser == "eye_centres":
        left, right = eye_centres(landmarks)
    elif normaliser == "outer_corners":
        left, right = landmarks[..., LEFT_EYE_OUTER, :], landmarks[..., RIGHT_EYE_OUTER, :]
    else:
        raise ValueError(f"landmark normaliser must be one of {NORMALISERS}, got {normaliser!r}")
    return (((right - left) ** 2).sum(-1)) ** 0.5
