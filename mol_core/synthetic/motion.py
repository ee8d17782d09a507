"""Micro-expression motion: action-unit-shaped displacement fields anchored on landmarks,
an onset-apex-offset intensity profile, and small head motion.

A frame's geometry is the map ``phi_t(x) = H_t(x + a(t) * D(x))`` from the identity's
neutral grid to the frame, with ``D`` a sum of Gaussian displacements centred on
landmarks (pixels), ``a(t)`` in [0,1] the intensity and ``H_t`` a small rigid head motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The five classes, in the order of CASME II's five-class protocol, and the action each
# one is made of: (landmark, direction in face axes (right, up), weight, sigma factor).
CLASSES = ("happiness", "disgust", "repression", "surprise", "others")
ACTION_UNITS = {"happiness": "12", "disgust": "4+9", "repression": "24", "surprise": "1+2", "others": "random"}
ACTIONS = {
    # AU12 lip-corner puller: mouth corners up and outwards.
    "happiness": [(48, (-0.6, 0.8), 1.0, 0.16), (54, (0.6, 0.8), 1.0, 0.16)],
    # AU9 nose wrinkler (+AU4): nose wings up, inner brows down.
    "disgust": [(31, (0.0, 1.0), 1.0, 0.13), (35, (0.0, 1.0), 1.0, 0.13), (21, (0.2, -1.0), 0.5, 0.13), (22, (-0.2, -1.0), 0.5, 0.13)],
    # AU24 lip presser: upper lip down, lower lip up, corners slightly in.
    "repression": [(51, (0.0, -1.0), 0.9, 0.11), (57, (0.0, 1.0), 0.9, 0.11), (48, (0.8, 0.0), 0.4, 0.11), (54, (-0.8, 0.0), 0.4, 0.11)],
    # AU1+2 brow raiser: whole brows up, inner parts less.
    "surprise": [(19, (0.0, 1.0), 1.0, 0.18), (24, (0.0, 1.0), 1.0, 0.18), (21, (0.0, 1.0), 0.5, 0.14), (22, (0.0, 1.0), 0.5, 0.14)],
}
# Landmarks the random "others" class may move: jaw, eyes, nose bridge (not the regions above).
OTHERS_POOL = np.r_[0:17, 27:30, 36:48]


@dataclass(frozen=True)
class Component:
    """One Gaussian displacement: centre [2] and displacement at the centre [2], pixels."""

    centre: tuple[float, float]
    vector: tuple[float, float]
    sigma: float


@dataclass(frozen=True)
class Motion:
    """The motion of one video: its displacement field, intensity profile and head motion."""

    components: tuple[Component, ...]
    onset: int  # indices into the video's frames
    apex: int
    offset: int
    head_shift: tuple[tuple[float, float, float], tuple[float, float, float]]  # x, y: (amp px, cycles, phase)
    head_rotation: tuple[float, float, float]  # (amp deg, cycles, phase)
    centre: tuple[float, float]  # centre of head rotation (nose tip)
    n_frames: int

    def displacement(self, points: np.ndarray) -> np.ndarray:
        """D(x) for points [...,2] -> [...,2] (intensity 1)."""
        return _displacement(self.components, points)[0]

    def intensity(self, t: int) -> float:
        """Raised-cosine rise from onset to apex and fall from apex to offset; 0 outside."""
        if t <= self.onset or t >= self.offset:
            return 0.0
        if t <= self.apex:
            return 0.5 * (1 - np.cos(np.pi * (t - self.onset) / max(self.apex - self.onset, 1)))
        return 0.5 * (1 + np.cos(np.pi * (t - self.apex) / max(self.offset - self.apex, 1)))

    def head(self, t: int) -> np.ndarray:
        """Rigid head motion H_t as an affine [2,3] (rotation about ``centre`` plus shift)."""
        phase = 2 * np.pi * t / max(self.n_frames - 1, 1)
        (ax, fx, px), (ay, fy, py) = self.head_shift
        ar, fr, pr = self.head_rotation
        shift = np.array([ax * np.sin(fx * phase + px), ay * np.sin(fy * phase + py)])
        angle = np.deg2rad(ar * np.sin(fr * phase + pr))
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        centre = np.asarray(self.centre)
        return np.hstack([rot, (centre - rot @ centre + shift)[:, None]])

    def forward(self, t: int, points: np.ndarray) -> np.ndarray:
        """phi_t: identity-grid points [...,2] -> their place in frame t."""
        moved = points + self.intensity(t) * self.displacement(points)
        h = self.head(t)
        return moved @ h[:, :2].T + h[:, 2]

    def inverse(self, t: int, points: np.ndarray, tol: float = 1e-9, max_iter: int = 50) -> np.ndarray:
        """phi_t^-1: solve ``x + a D(x) = H_t^-1(y)`` by Newton's method (the field's Jacobian
        is kept below 1 in norm by :func:`draw_motion`, so the map is invertible). Each point
        stops once its own residual is below ``tol``: far from the moving landmarks the field
        is ~0 and the first guess is already the answer, so later steps touch only the few
        points near the motion."""
        h = self.head(t)
        z = (points - h[:, 2]) @ np.linalg.inv(h[:, :2]).T
        a = self.intensity(t)
        if a == 0:
            return z
        x = z.reshape(-1, 2).copy()
        target = x.copy()
        active = np.arange(len(x))
        for _ in range(max_iter):
            d, _ = _displacement(self.components, x[active])
            residual = x[active] + a * d - target[active]
            moving = np.abs(residual).max(axis=-1) >= tol
            if not moving.any():
                return x.reshape(z.shape)
            active, residual = active[moving], residual[moving]
            _, jac = _displacement(self.components, x[active], jacobian=True)
            x[active] -= _solve_2x2(np.eye(2) + a * jac, residual)  # [...,2,2] systems
        raise RuntimeError("displacement field inversion did not converge")


def _solve_2x2(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with ``m @ x = b`` for stacks of 2x2 systems (m [...,2,2], b [...,2]) by Cramer's
    rule: the Newton systems here are near the identity, and this is ~15x faster than
    ``np.linalg.solve`` on a frame's worth of them."""
    det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    x0 = (m[..., 1, 1] * b[..., 0] - m[..., 0, 1] * b[..., 1]) / det
    x1 = (m[..., 0, 0] * b[..., 1] - m[..., 1, 0] * b[..., 0]) / det
    return np.stack([x0, x1], axis=-1)


def _displacement(components, points: np.ndarray, jacobian: bool = False):
    """Sum of Gaussian displacements at points [...,2] and, if asked, its Jacobian [...,2,2]."""
    out = np.zeros(points.shape, dtype=np.float64)
    jac = np.zeros(points.shape + (2,), dtype=np.float64) if jacobian else None
    for comp in components:
        offset = points - np.asarray(comp.centre)
        weight = np.exp(-(offset**2).sum(-1) / (2 * comp.sigma**2))
        vector = np.asarray(comp.vector)
        out += weight[..., None] * vector
        if jacobian:
            # d/dx_j [w v_i] = v_i * w * (-offset_j / sigma^2)
            jac -= (weight / comp.sigma**2)[..., None, None] * vector[:, None] * offset[..., None, :]
    return out, jac


MAX_JACOBIAN_NORM = 0.6


def _limit_strain(components: list[Component], landmarks: np.ndarray) -> list[Component]:
    """Scale all displacements down if the field's Jacobian norm anywhere near the face
    exceeds MAX_JACOBIAN_NORM, so every frame's map stays smooth and invertible."""
    lo, hi = landmarks.min(0) - 30, landmarks.max(0) + 30
    ys, xs = np.mgrid[lo[1] : hi[1] : 1.0, lo[0] : hi[0] : 1.0]
    _, jac = _displacement(components, np.stack([xs, ys], -1), jacobian=True)
    norm = np.linalg.norm(jac, ord=2, axis=(-2, -1)).max()
    if norm <= MAX_JACOBIAN_NORM:
        return components
    scale = MAX_JACOBIAN_NORM / norm
    return [Component(c.centre, tuple(scale * np.asarray(c.vector)), c.sigma) for c in components]


def _random_actions(rng: np.random.Generator, count: int) -> list:
    """``count`` actions on distinct points of OTHERS_POOL in random directions."""
    spec = []
    for idx in rng.choice(OTHERS_POOL, size=count, replace=False):
        angle = rng.uniform(0, 2 * np.pi)
        spec.append((int(idx), (np.cos(angle), np.sin(angle)), rng.uniform(0.6, 1.0), 0.14))
    return spec


def draw_motion(
    rng: np.random.Generator,
    emotion: str,
    landmarks: np.ndarray,
    up: np.ndarray,
    eye_distance_px: float,
    n_frames: int,
    onset: int,
    offset: int,
    amplitude: tuple[float, float],
    head_motion_px: float,
    head_motion_deg: float,
    distractor: float = 0.0,
) -> Motion:
    """Random motion of one video of class ``emotion`` on a face with neutral ``landmarks``.

    ``up`` is the face's unit up vector in the frame; amplitudes are pixels at the apex.
    ``distractor``: the probability that a video of any class also moves 1-2 random points of
    the "others" pool (eyes, jaw, nose bridge: a blink or a twitch) with the expression, so
    that motion alone does not tell the class. At 0 the random stream is that of a generator
    without the option (the same videos).
    """
    up = np.asarray(up, dtype=np.float64)
    right = np.array([-up[1], up[0]])
    amp = rng.uniform(*amplitude)
    if emotion == "others":
        spec = _random_actions(rng, int(rng.integers(2, 4)))
    elif emotion in ACTIONS:
        spec = list(ACTIONS[emotion])
    else:
        raise ValueError(f"unknown synthetic class {emotion!r}; known: {', '.join(CLASSES)}")
    if distractor > 0 and rng.random() < distractor:
        spec += _random_actions(rng, int(rng.integers(1, 3)))
    components = []
    for idx, (dr, du), weight, sigma in spec:
        turn = np.deg2rad(rng.uniform(-15, 15))
        c, s = np.cos(turn), np.sin(turn)
        dr, du = c * dr - s * du, s * dr + c * du
        direction = dr * right + du * up
        direction /= np.linalg.norm(direction)
        vector = amp * weight * rng.uniform(0.8, 1.2) * direction
        components.append(Component(tuple(landmarks[idx]), tuple(vector), sigma * eye_distance_px))
    components = _limit_strain(components, np.asarray(landmarks))
    apex = int(round(onset + rng.uniform(0.35, 0.65) * (offset - onset)))

    def sway(amplitude: float) -> tuple[float, float, float]:  # (amplitude, cycles, phase)
        return float(amplitude * rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, 2 * np.pi))

    head_shift = (sway(head_motion_px), sway(head_motion_px))
    head_rotation = sway(head_motion_deg)
    return Motion(tuple(components), onset, apex, offset, head_shift, head_rotation, tuple(landmarks[30]), n_frames)
