"""Synthetic identities: landmark-based morphs of two source photographs with changes of
face shape, skin tone, lighting and background.

An :class:`Identity` is a set of smooth fields on the frame grid (its neutral pose):
where each frame pixel comes from in each parent photo, how the parents are blended,
and the photometric changes. :meth:`Identity.render` samples the parent photos once at any
set of identity coordinates, so deformed frames and the neutral frame share one resampling.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..face68 import BROWS, JAW, NOSE_TIP, eye_centres
from ..util.geometry import (
    apply_affine,
    bilinear_sample,
    delaunay_triangles,
    fit_similarity,
    invert_affine,
    piecewise_affine_map,
    similarity_matrix,
)
from .faces import SourceFace


@dataclass(frozen=True)
class IdentityParams:
    """Everything that makes one identity; drawn by :func:`draw_identity_params`."""

    parents: tuple[int, int]
    alpha: float  # share of the second parent inside the face
    jaw_width: float  # relative change of the jaw width (-0.1 = 10% narrower)
    chin_length: float  # relative change of the chin height
    scale: float  # face size relative to the canonical size
    angle_deg: float  # in-plane rotation of the face in the frame
    offset: tuple[float, float]  # face position relative to the frame centre, pixels
    skin_gain: tuple[float, float, float]  # B, G, R gains inside the face
    light: tuple[float, float]  # left-right and top-bottom lighting ramp slopes
    gamma: float
    background: tuple[tuple[float, float, float], tuple[float, float, float]]  # top, bottom BGR
    background_strength: float  # 0 keeps the photo's background, 1 replaces it

    def to_dict(self) -> dict:
        return asdict(self)


def _triple(values) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return a, b, c


def draw_identity_params(rng: np.random.Generator, n_faces: int, parents: tuple[int, int]) -> IdentityParams:
    if len(set(parents)) != 2 or max(parents) >= n_faces:
        raise ValueError(f"parents must be two distinct indices below {n_faces}, got {parents}")
    base = rng.uniform(0.78, 1.18)
    return IdentityParams(
        parents=(int(parents[0]), int(parents[1])),
        alpha=float(rng.uniform(0.3, 0.7)),
        jaw_width=float(rng.uniform(-0.10, 0.10)),
        chin_length=float(rng.uniform(-0.10, 0.10)),
        scale=float(rng.uniform(0.92, 1.08)),
        angle_deg=float(rng.uniform(-5, 5)),
        offset=(float(rng.uniform(-6, 6)), float(rng.uniform(-6, 6))),
        skin_gain=_triple(base * rng.uniform(0.93, 1.07) for _ in range(3)),
        light=(float(rng.uniform(-0.25, 0.25)), float(rng.uniform(-0.15, 0.15))),
        gamma=float(rng.uniform(0.8, 1.25)),
        background=(_triple(rng.uniform(0.1, 0.9, 3)), _triple(rng.uniform(0.1, 0.9, 3))),
        background_strength=float(rng.uniform(0.4, 0.9)),
    )


def canonical_frame(height: int, width: int, eye_distance_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the left and right eye centres sit in the canonical neutral pose, [2] each."""
    cx, cy = width / 2.0 - 0.5, 0.40 * height
    return np.array([cx - eye_distance_px / 2, cy]), np.array([cx + eye_distance_px / 2, cy])


def canonical_transforms(faces: list[SourceFace], height: int, width: int, eye_distance_px: float):
    """Similarity per source face into the canonical frame, fitted on all 68 points to their
    Procrustes mean shape, which is itself placed by its eye centres. Returns a list of [2,3]."""
    left_c, right_c = canonical_frame(height, width, eye_distance_px)

    def place_by_eyes(points: np.ndarray) -> np.ndarray:
        left, right = eye_centres(points)
        return fit_similarity(np.stack([left, right]), np.stack([left_c, right_c]))

    mean = apply_affine(place_by_eyes(faces[0].landmarks), faces[0].landmarks)
    for _ in range(3):
        aligned = [apply_affine(fit_similarity(f.landmarks, mean), f.landmarks) for f in faces]
        mean = np.mean(aligned, axis=0)
        mean = apply_affine(place_by_eyes(mean), mean)
    return [fit_similarity(f.landmarks, mean) for f in faces]


def _reshape_jaw(points: np.ndarray, jaw_width: float, chin_length: float) -> np.ndarray:
    points = points.copy()
    nose = points[NOSE_TIP]
    vertical_weight = np.sin(np.pi * np.arange(17) / 16.0)  # 0 at the ears, 1 at the chin
    points[JAW, 0] = nose[0] + (points[JAW, 0] - nose[0]) * (1 + jaw_width)
    points[JAW, 1] = nose[1] + (points[JAW, 1] - nose[1]) * (1 + chin_length * vertical_weight)
    return points


def _forehead(points: np.ndarray, eye_distance_px: float) -> np.ndarray:
    """Anchor points above the brows so the forehead follows the face."""
    return points[BROWS] + np.array([0.0, -0.75 * eye_distance_px])


def _frame_border(height: int, width: int) -> np.ndarray:
    xs = [0, (width - 1) / 2, width - 1]
    ys = [0, (height - 1) / 2, height - 1]
    return np.array([(x, y) for y in ys for x in xs if not (x == xs[1] and y == ys[1])], dtype=np.float64)


def _soft_mask(height: int, width: int, polygon: np.ndarray, blur_px: float) -> np.ndarray:
    mask = np.zeros((height, width), np.float32)
    hull = cv2.convexHull(np.round(polygon * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1.0, shift=4)
    return cv2.GaussianBlur(mask, (0, 0), blur_px)


class Identity:
    """One synthetic person in its neutral pose on a ``height x width`` frame grid.

    ``landmarks`` float64 [68,2] are the exact neutral landmarks in frame pixels.
    """

    def __init__(self, name: str, params: IdentityParams, faces: list[SourceFace], height: int, width: int, eye_distance_px: float):
        self.name, self.params = name, params
        self.height, self.width = height, width
        self.faces = [faces[i] for i in params.parents]
        to_canon = canonical_transforms(faces, height, width, eye_distance_px)
        to_canon = [to_canon[i] for i in params.parents]
        canon = [apply_affine(m, f.landmarks) for m, f in zip(to_canon, self.faces, strict=True)]
        target = (1 - params.alpha) * canon[0] + params.alpha * canon[1]
        target = _reshape_jaw(target, params.jaw_width, params.chin_length)

        centre = np.array([width / 2.0 - 0.5, height / 2.0 - 0.5])
        rotate = similarity_matrix(params.scale, np.deg2rad(params.angle_deg), 0, 0)
        rotate[:, 2] = centre - rotate[:, :2] @ centre + np.asarray(params.offset)
        placement = rotate  # canonical -> frame
        self.landmarks = apply_affine(placement, target)
        self.up = np.array([np.sin(np.deg2rad(params.angle_deg)), -np.cos(np.deg2rad(params.angle_deg))])

        border = _frame_border(height, width)
        border_canon = apply_affine(invert_affine(placement), border)
        target_all = np.vstack([self.landmarks, apply_affine(placement, _forehead(target, eye_distance_px)), border])
        triangles = delaunay_triangles(target_all, width, height)
        self.maps = []
        for parent_canon, m in zip(canon, to_canon, strict=True):
            parent_all = np.vstack([parent_canon, _forehead(parent_canon, eye_distance_px), border_canon])
            photo_points = apply_affine(invert_affine(m), parent_all)
            self.maps.append(piecewise_affine_map(target_all, photo_points, triangles, height, width))

        face_outline = np.vstack([self.landmarks[JAW], apply_affine(placement, _forehead(target, eye_distance_px))])
        face_mask = _soft_mask(height, width, face_outline, 0.10 * eye_distance_px)
        weight_b = face_mask * params.alpha + (1 - face_mask) * float(params.alpha >= 0.5)

        # Head: an ellipse around the face outline; the rest is background.
        lo, hi = face_outline.min(0), face_outline.max(0)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        cx, cy = (lo + hi) / 2 - np.array([0, 0.1 * (hi[1] - lo[1])])
        ax, ay = 0.72 * (hi[0] - lo[0]), 0.68 * (hi[1] - lo[1])
        head = (((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 < 1).astype(np.float32)
        head = cv2.GaussianBlur(head, (0, 0), 0.15 * eye_distance_px)
        top, bottom = (np.asarray(c, np.float32) for c in params.background)
        ramp = (ys / max(height - 1, 1))[..., None]
        background = (1 - ramp) * top + ramp * bottom
        light = 1 + params.light[0] * (xs - cx) / width * 2 + params.light[1] * (ys - cy) / height * 2
        skin = 1 + face_mask[..., None] * (np.asarray(params.skin_gain, np.float32) - 1)
        # All smooth fields stacked, so one bilinear lookup serves a whole frame.
        self._fields = np.concatenate(
            [
                self.maps[0],
                self.maps[1],
                weight_b[..., None],
                skin,
                light[..., None],
                background,
                (params.background_strength * (1 - head))[..., None],
            ],
            axis=-1,
        )

    def render(self, coords: np.ndarray) -> np.ndarray:
        """Colour image float64 [H,W,3] in [0,1] whose pixel y shows identity point coords[y].

        ``coords`` float [H,W,2] are positions on the identity's neutral grid (x, y).
        """
        f = bilinear_sample(self._fields, coords)
        a = bilinear_sample(self.faces[0].image, f[..., 0:2])
        b = bilinear_sample(self.faces[1].image, f[..., 2:4])
        w = f[..., 4:5]
        colour = (1 - w) * a + w * b
        colour = colour * f[..., 5:8] * f[..., 8:9]
        strength = f[..., 12:13]
        colour = (1 - strength) * colour + strength * f[..., 9:12]
        return np.clip(colour, 0, 1) ** self.params.gamma
