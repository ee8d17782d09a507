"""The three alignments (``preprocess.align``): the transforms on known landmark tracks, the
exact truth seen through two transforms, and the stores real dlib makes from synthetic
videos with head motion."""

from __future__ import annotations

import numpy as np
import pytest

from mol_core.clips.sampling import Sampling
from mol_core.datasets import load
from mol_core.errors import ConfigError
from mol_core.face68 import RIGID
from mol_core.metrics import landmark_nme
from mol_core.preprocess import open_store
from mol_core.preprocess.alignment import alignment_transform, five_points, frame_transforms, smooth_in_time, warp_to_crop
from mol_core.preprocess.video import build_store
from mol_core.store.keys import PreprocessSettings
from mol_core.store.zarr_store import stored_transforms
from mol_core.synthetic import SyntheticSettings, generate_dataset
from mol_core.synthetic.layout import load_ground_truth
from mol_core.synthetic.truth import ground_truth_in_crop
from mol_core.util.geometry import apply_affine, bilinear_sample, pixel_grid, similarity_matrix

from .conftest import CLEAN, FACES

RNG = np.random.default_rng(0)


def neutral_face() -> np.ndarray:
    """A plausible 68-point face [68,2] in a 640 x 480 frame: the first source photograph's
    dlib landmarks at an eye distance of 60 px."""
    from mol_core.synthetic.faces import load_source_faces

    return np.asarray(load_source_faces(FACES, 60.0)[0].landmarks, dtype=np.float64) + (200.0, 120.0)


def moved(points: np.ndarray, angle_deg: float, shift: tuple[float, float]) -> np.ndarray:
    return apply_affine(similarity_matrix(1.0, np.deg2rad(angle_deg), *shift), points)


def test_per_frame_is_each_frames_five_point_transform():
    face = neutral_face()
    track = np.stack([moved(face, a, (a, -a)) for a in np.linspace(0, 2, 5)])
    got = frame_transforms(track, "per_frame")
    for points, transform in zip(track, got, strict=True):
        assert transform == pytest.approx(alignment_transform(points))
    assert five_points(track).shape == (5, 5, 2)


def test_head_motion_leaves_the_crop_under_per_frame_and_smoothed_and_stays_under_per_video():
    """A rigid face moving 3 px and 2 degrees: per frame and smoothed (sigma small) put every
    frame's points at the same crop positions; one transform per video does not."""
    face = neutral_face()
    track = np.stack([moved(face, 2.0 * t / 9, (3.0 * t / 9, -1.0 * t / 9)) for t in range(10)])
    for align in ("per_frame", "smoothed"):
        transforms = frame_transforms(track, align, sigma=0.01)
        crop = np.stack([apply_affine(m, p) for m, p in zip(transforms, track, strict=True)])
        assert np.abs(crop - crop[0]).max() < 1e-6, align
    one = alignment_transform(track[0])
    assert np.abs(apply_affine(one, track[-1]) - apply_affine(one, track[0])).max() > 0.5


def test_smoothed_does_not_take_an_expression_for_head_motion():
    """Mouth corners (two of the five points) moving 4 px with the expression: per frame
    the whole crop shifts and scales with them; smoothed (rigid points only) stays put."""
    face = neutral_face()
    track = np.repeat(face[None], 9, axis=0)
    rise = np.sin(np.linspace(0, np.pi, 9))
    track[:, 48] += rise[:, None] * (-2.4, -3.2)
    track[:, 54] += rise[:, None] * (2.4, -3.2)
    eye_in_crop = {
        align: np.stack([apply_affine(m, p[36]) for m, p in zip(frame_transforms(track, align), track, strict=True)])
        for align in ("per_frame", "smoothed")
    }
    assert np.abs(eye_in_crop["smoothed"] - eye_in_crop["smoothed"][0]).max() < 1e-9
    assert np.abs(eye_in_crop["per_frame"] - eye_in_crop["per_frame"][0]).max() > 0.3


def test_smoothed_transforms_jitter_less_than_per_frame():
    """dlib-like noise (0.5 px per point per frame) on a still face: the crop position of a
    fixed frame point moves at least 3 times less under smoothed than per frame."""
    face = neutral_face()
    track = face[None] + RNG.normal(0.0, 0.5, (40, 68, 2))
    spread = {}
    for align in ("per_frame", "smoothed"):
        seen = np.stack([apply_affine(m, face[30]) for m in frame_transforms(track, align, sigma=3.0)])
        spread[align] = float(np.linalg.norm(seen - seen.mean(0), axis=-1).mean())
    print(f"crop jitter of a fixed point: per_frame {spread['per_frame']:.3f} px, smoothed {spread['smoothed']:.3f} px")
    assert spread["smoothed"] < spread["per_frame"] / 3


def test_time_smoothing_keeps_constants_and_linear_trends_inside():
    values = np.stack([np.full((2, 3), 5.0)] * 12)
    assert smooth_in_time(values, 2.0) == pytest.approx(values, abs=1e-12)
    ramp = np.arange(30, dtype=np.float64)
    assert smooth_in_time(ramp, 2.0)[8:-8] == pytest.approx(ramp[8:-8], abs=1e-9)
    assert len(RIGID) == 8 and not set(RIGID) & {48, 54, 17, 26}


def test_settings_refuse_an_unknown_alignment_and_key_sigma_only_when_smoothed():
    with pytest.raises(ConfigError, match="preprocess.align must be one of per_frame, smoothed, per_video"):
        PreprocessSettings(align="per_clip")
    assert PreprocessSettings(align_sigma=9.0).store_params() == PreprocessSettings().store_params()
    assert PreprocessSettings(align="smoothed", align_sigma=9.0).store_params() != PreprocessSettings(align="smoothed").store_params()
    assert PreprocessSettings(align="per_video").store_params() != PreprocessSettings().store_params()


def test_exact_flow_through_two_transforms_carries_one_crop_onto_the_next(clean_dataset):
    """Crop a and crop b made with different similarities: crop_b(u + E(u)) = crop_a(u) for the
    exact crop flow E, and not for the flow of one transform."""
    row = load("synthetic", clean_dataset)[0]
    gt = load_ground_truth(clean_dataset, row.subject, row.video)
    import cv2

    frames = [cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in row.frames]
    base = alignment_transform(gt["landmarks"][CLEAN.pad_frames])
    other = base.copy()
    other[:, :2] *= 1.03
    other[:, 2] += (2.5, -1.5)
    transforms = np.stack([base] + [other] * (len(frames) - 1))
    pairs = np.array([[0, 3]])
    truth = ground_truth_in_crop(gt, transforms, 144, CLEAN.pad_frames, len(frames), pairs)
    crops = [warp_to_crop(f, m).astype(np.float64) for f, m in zip(frames, transforms, strict=True)]
    grid = pixel_grid(144, 144)
    inner = (slice(20, -20), slice(20, -20))
    with_exact = np.abs(bilinear_sample(crops[3], grid + np.moveaxis(truth["flow"][0].astype(np.float64), 0, -1)) - crops[0])[inner].mean()
    one = ground_truth_in_crop(gt, base, 144, CLEAN.pad_frames, len(frames), pairs)["flow"][0]
    with_one = np.abs(bilinear_sample(crops[3], grid + np.moveaxis(one.astype(np.float64), 0, -1)) - crops[0])[inner].mean()
    print(f"photometric error: exact flow {with_exact:.2f}, one transform's {with_one:.2f} grey levels")
    assert with_exact < 1.0 and with_one > 4 * with_exact
    assert truth["landmarks"][3] == pytest.approx(apply_affine(other, gt["landmarks"][CLEAN.pad_frames + 3]), abs=1e-4)


@pytest.fixture(scope="module")
def head_only(tmp_path_factory):
    """Synthetic videos with head motion (2 px, 1 degree) and no expression."""
    settings = SyntheticSettings(
        subjects=1,
        videos_per_class=1,
        frames=10,
        pad_frames=0,
        amplitude=(0.0, 0.0),
        head_motion_px=2.0,
        head_motion_deg=1.0,
        classes=("happiness", "surprise"),
        seed=4,
    )
    return generate_dataset(tmp_path_factory.mktemp("head") / "data", FACES, settings, verbose=False)


def test_expression_flow_is_zero_without_expression_and_most_of_the_motion_with_little_head_motion(head_only, clean_dataset):
    row = load("synthetic", head_only)[0]
    gt = load_ground_truth(head_only, row.subject, row.video)
    n = len(row.frames)
    truth = ground_truth_in_crop(gt, alignment_transform(gt["landmarks"][0]), 144, 0, n, [[0, n - 1]], expression=True)
    assert np.abs(truth["flow"]).max() > 1.0 and np.abs(truth["expression_flow"]).max() < 0.02
    clean = load("synthetic", clean_dataset)[0]
    gt = load_ground_truth(clean_dataset, clean.subject, clean.video)
    truth = ground_truth_in_crop(gt, alignment_transform(gt["landmarks"][1]), 144, CLEAN.pad_frames, CLEAN.frames, [[0, 5]], expression=True)
    head_part = truth["flow"] - truth["expression_flow"]  # the clean set's head moves 0.3 px at most
    assert 0 < np.abs(head_part).max() < 0.6 < np.abs(truth["expression_flow"]).max()
    del gt["head"]
    with pytest.raises(KeyError, match="regenerate the synthetic set"):
        ground_truth_in_crop(gt, alignment_transform(gt["landmarks"][1]), 144, CLEAN.pad_frames, CLEAN.frames, [[0, 5]], expression=True)


def test_real_dlib_stores_follow_or_keep_the_head(head_only, tmp_path):
    """Stores of a moving head without expression (real dlib): the exact crop motion from
    the first to the last frame (all head motion, none of it expression) is under half of
    per_video's under per_frame and smoothed; the stored landmarks stay at dlib's own error."""
    motion, drift = {}, {}
    for align in ("per_frame", "smoothed", "per_video"):
        residual, rigid_drift = [], []
        for row in load("synthetic", head_only):
            store = tmp_path / align / f"{row.video}.zarr"
            build_store(row.frames, store, PreprocessSettings(align=align), {})
            group = open_store(store)
            n = group["frames"].shape[0]
            transforms = stored_transforms(group.attrs, n)
            assert group.attrs["align"] == align and transforms.shape == (n, 2, 3)
            assert ("transforms" in group.attrs) == (align != "per_video")
            gt = load_ground_truth(head_only, row.subject, row.video)
            truth = ground_truth_in_crop(gt, transforms, 144, 0, n, [[0, n - 1]], expression=True)
            assert np.abs(truth["expression_flow"]).max() < 0.05
            residual.append(np.linalg.norm(truth["flow"][0][:, 8:136, 8:136], axis=0).mean())
            rigid_drift.append(np.linalg.norm(truth["landmarks"][:, RIGID] - truth["landmarks"][0, RIGID], axis=-1).max())
            assert landmark_nme(group["landmarks"][:], truth["landmarks"]).mean() < 0.05  # dlib's own error (jaw contour included)
        motion[align], drift[align] = float(np.mean(residual)), float(np.max(rigid_drift))
        print(f"{align}: exact crop motion first -> last {motion[align]:.3f} px, rigid points' largest drift {drift[align]:.3f} px")
    assert motion["per_video"] > 1.0
    assert motion["per_frame"] < 0.5 * motion["per_video"] and motion["smoothed"] < 0.5 * motion["per_video"]
    assert drift["per_frame"] < 0.5 * drift["per_video"] and drift["smoothed"] < 0.75 * drift["per_video"]


def test_a_checkpoint_predicts_with_the_alignment_and_sampling_it_was_trained_on():
    from mol_core.clips.preparation import Preparation
    from mol_core.errors import CheckpointError
    from mol_core.model import Checkpoint
    from mol_core.predict.predictor import checkpoint_preparation

    trained = Preparation(PreprocessSettings(align="smoothed", align_sigma=2.0, flow={"nscales": 3}), Sampling(8))
    assert checkpoint_preparation(Checkpoint({}, {}, 5, 8, tuple("abcde"), preparation=trained.to_dict())) == trained
    assert checkpoint_preparation(Checkpoint({}, {}, 5, 8, tuple("abcde"))) == Preparation(PreprocessSettings(), Sampling(8))  # none recorded
    other_length = Preparation(PreprocessSettings(), Sampling(4)).to_dict()
    with pytest.raises(CheckpointError, match="for 8-frame clips but records sampling uniform_t4"):
        checkpoint_preparation(Checkpoint({}, {}, 5, 8, tuple("abcde"), preparation=other_length))
    with pytest.raises(CheckpointError, match="preparation record is not valid: unknown preprocess settings"):
        checkpoint_preparation(Checkpoint({}, {}, 5, 8, tuple("abcde"), preparation={"preprocess": {"sise": 1}, "sampling": {}}))
