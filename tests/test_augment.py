"""Crops and flips keep frames, flow and landmarks consistent."""

from __future__ import annotations

import numpy as np

from mol_core.clips.augment import augment, crop, hflip
from mol_core.face68 import MIRROR


def scene(seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, (3, 20, 24)).astype(np.uint8)
    flow = rng.normal(size=(2, 2, 20, 24)).astype(np.float32)
    landmarks = rng.uniform(2, 18, (2, 68, 2)).astype(np.float32)
    return frames, flow, landmarks


def test_flip_mirrors_pixels_flow_and_points():
    frames, flow, landmarks = scene()
    f2, fl2, lm2 = hflip(frames, flow, landmarks)
    assert np.array_equal(f2[:, 5, 3], frames[:, 5, 24 - 1 - 3])
    assert np.array_equal(fl2[:, 0, 5, 3], -flow[:, 0, 5, 20])
    assert np.array_equal(fl2[:, 1, 5, 3], flow[:, 1, 5, 20])
    # Point 36 (left eye outer corner) becomes the mirror of point 45, and so on.
    assert np.allclose(lm2[:, 36], [[23 - landmarks[k, 45, 0], landmarks[k, 45, 1]] for k in range(2)])
    assert MIRROR[48] == 54 and MIRROR[8] == 8 and MIRROR[30] == 30
    # Flipping twice is the identity.
    back = hflip(*hflip(frames, flow, landmarks))
    assert np.array_equal(back[0], frames) and np.array_equal(back[1], flow)
    assert np.allclose(back[2], landmarks, atol=1e-5)


def test_crop_shifts_points_with_the_window():
    frames, flow, landmarks = scene()
    f2, fl2, lm2 = crop(frames, flow, landmarks, 3, 2, 16)
    assert f2.shape == (3, 16, 16) and fl2.shape == (2, 2, 16, 16)
    assert np.array_equal(f2[:, 0, 0], frames[:, 2, 3])
    assert np.allclose(lm2, landmarks - [3, 2])


def test_a_landmark_stays_on_its_pixel_under_random_augmentation():
    """Mark the pixel under a landmark; after any crop+flip it is still under that landmark."""
    frames = np.zeros((1, 144, 144), np.uint8)
    flow = np.zeros((1, 2, 144, 144), np.float32)
    landmarks = np.full((1, 68, 2), 70.0, np.float32)
    landmarks[0, 36] = (40, 60)
    frames[0, 60, 40] = 255
    flow[0, 0, 60, 40] = 1.5  # motion to the right at that pixel
    rng = np.random.default_rng(0)
    flips = 0
    for _ in range(20):
        f, fl, lm = augment(frames, flow, landmarks, 128, rng)
        flipped = f[0, int(lm[0, 45, 1]), int(lm[0, 45, 0])] == 255
        flips += flipped
        x, y = (lm[0, 45] if flipped else lm[0, 36]).astype(int)
        assert f[0, y, x] == 255
        assert fl[0, 0, y, x] == (-1.5 if flipped else 1.5)
    assert 0 < flips < 20
    f, fl, lm = augment(frames, flow, landmarks, 128, None)  # centre crop
    assert np.allclose(lm[0, 36], (32, 52)) and f[0, 52, 32] == 255


def test_crop_jitter_bounds_the_shift_from_the_centre():
    """``jitter`` k: every training crop starts within k pixels of the centre crop (8 for 128
    of 144), and the draws reach both ends; None leaves the whole margin (0..16). Read on y,
    which a flip leaves alone."""
    frames = np.zeros((1, 144, 144), np.uint8)
    flow = np.zeros((1, 2, 144, 144), np.float32)
    landmarks = np.full((1, 68, 2), 72.0, np.float32)
    for jitter, low, high in ((0, 8, 8), (2, 6, 10), (None, 0, 16)):
        rng = np.random.default_rng(1)
        starts = {72.0 - augment(frames, flow, landmarks, 128, rng, jitter)[2][0, 0, 1] for _ in range(300)}
        assert min(starts) == low and max(starts) == high, (jitter, sorted(starts))
