"""The embedded synthetic dataset: layout, determinism, and exact ground truth."""

from __future__ import annotations

import filecmp

import cv2
import numpy as np
import pandas as pd
import pytest

from mol_core.errors import DataError
from mol_core.preprocess import detect_landmarks
from mol_core.synthetic import CLASSES, SyntheticSettings, generate_dataset
from mol_core.synthetic.layout import CODING_FILE, EXTRA_DIR, GROUND_TRUTH_DIR, load_ground_truth
from mol_core.synthetic.motion import OTHERS_POOL, draw_motion
from mol_core.util.geometry import bilinear_sample, pixel_grid

from .conftest import CLEAN, FACES


def read_video(root, row):
    gt = load_ground_truth(root, row.Subject, row.Filename)
    frames = np.stack([cv2.imread(str(root / row.Subject / row.Filename / f"img{n}.png")) for n in gt["frame_numbers"]])
    return frames, gt


def test_coding_table_is_a_real_dataset_layout(clean_dataset):
    coding = pd.read_csv(clean_dataset / CODING_FILE, dtype={"Subject": str})
    assert list(coding.columns) == ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]
    assert len(coding) == CLEAN.subjects * len(CLASSES) * CLEAN.videos_per_class
    assert sorted(coding["Estimated Emotion"].unique()) == sorted(CLASSES)
    assert ((coding.OnsetFrame < coding.ApexFrame) & (coding.ApexFrame < coding.OffsetFrame)).all()
    assert (coding.OffsetFrame - coding.OnsetFrame + 1 == CLEAN.frames).all()
    for row in coding.itertuples():
        files = sorted(int(p.stem[3:]) for p in (clean_dataset / row.Subject / row.Filename).glob("img*.png"))
        assert files == list(range(row.OnsetFrame - CLEAN.pad_frames, row.OffsetFrame + CLEAN.pad_frames + 1))


def test_generation_is_deterministic(tmp_path):
    settings = SyntheticSettings(subjects=1, videos_per_class=1, frames=4, pad_frames=0, classes=("happiness",), seed=11)
    a = generate_dataset(tmp_path / "a", FACES, settings, verbose=False)
    b = generate_dataset(tmp_path / "b", FACES, settings, verbose=False)
    frames = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert frames and frames == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    assert all(filecmp.cmp(a / f, b / f, shallow=False) for f in frames)
    assert (a / CODING_FILE).read_text() == (b / CODING_FILE).read_text()
    other = generate_dataset(tmp_path / "c", FACES, SyntheticSettings(**{**settings.__dict__, "seed": 12}), verbose=False)
    first_other = sorted(other.rglob("*.png"))[0]
    assert not np.array_equal(cv2.imread(str(a / frames[0])), cv2.imread(str(first_other)))


def test_extra_identities_are_unlabelled_and_leave_the_loso_subjects_unchanged(tmp_path):
    settings = SyntheticSettings(subjects=2, videos_per_class=1, frames=3, pad_frames=0, classes=("happiness",), height=128, width=112, seed=3)
    plain = generate_dataset(tmp_path / "plain", FACES, settings, verbose=False)
    extra = generate_dataset(
        tmp_path / "extra", FACES, SyntheticSettings(**{**settings.__dict__, "extra_subjects": 2, "extra_videos": 2}), verbose=False
    )
    loso = sorted(p.relative_to(plain) for p in plain.rglob("*.png"))
    assert all(filecmp.cmp(plain / f, extra / f, shallow=False) for f in loso)
    assert (plain / CODING_FILE).read_text() == (extra / CODING_FILE).read_text()
    videos = sorted(p.relative_to(extra / EXTRA_DIR) for p in (extra / EXTRA_DIR).glob("*/*"))
    assert [str(v) for v in videos] == ["ext01/EP01", "ext01/EP02", "ext02/EP01", "ext02/EP02"]
    assert not (extra / GROUND_TRUTH_DIR / "ext01").exists()
    # new people: no extra identity's first frame equals a LOSO subject's
    firsts = [cv2.imread(str(sorted((extra / EXTRA_DIR / v).glob("*.png"))[0])) for v in videos]
    for subject in ("sub01", "sub02"):
        own = cv2.imread(str(sorted((extra / subject).rglob("*.png"))[0]))
        assert all(np.abs(own.astype(int) - f.astype(int)).mean() > 1 for f in firsts)
    with pytest.raises(ValueError, match="extra_subjects"):
        SyntheticSettings(extra_subjects=-1)
    # The workflow's two jobs: the subjects, then the extra identities directly under their own
    # folder, frame for frame those of the one-job layout.
    with_extra = SyntheticSettings(**{**settings.__dict__, "extra_subjects": 2, "extra_videos": 2})
    subjects = generate_dataset(tmp_path / "subjects", FACES, with_extra, verbose=False, part="subjects")
    alone = generate_dataset(tmp_path / "alone", FACES, with_extra, verbose=False, part="extra")
    assert not (subjects / EXTRA_DIR).exists() and not (alone / CODING_FILE).exists()
    assert sorted(p.relative_to(subjects) for p in subjects.rglob("*.png")) == loso
    assert all(filecmp.cmp(plain / f, subjects / f, shallow=False) for f in loso)
    extra_frames = sorted(p.relative_to(extra / EXTRA_DIR) for p in (extra / EXTRA_DIR).rglob("*.png"))
    assert sorted(p.relative_to(alone) for p in alone.rglob("*.png")) == extra_frames
    assert all(filecmp.cmp(extra / EXTRA_DIR / f, alone / f, shallow=False) for f in extra_frames)
    with pytest.raises(ValueError, match="needs extra_subjects"):
        generate_dataset(tmp_path / "none", FACES, settings, verbose=False, part="extra")


def test_backward_warp_by_ground_truth_flow_reproduces_previous_frame(clean_dataset):
    """I_k(y) = I_k+1(y + F_k(y)) on interior pixels, far better than without the flow."""
    coding = pd.read_csv(clean_dataset / CODING_FILE, dtype={"Subject": str})
    for row in coding.itertuples():
        frames, gt = read_video(clean_dataset, row)
        gray = frames.astype(np.float64).mean(-1)
        grid = pixel_grid(*gray.shape[1:])
        interior = (slice(12, -12), slice(12, -12))
        for k in range(len(gray) - 1):
            flow = np.moveaxis(gt["flow"][k].astype(np.float64), 0, -1)
            warped = bilinear_sample(gray[k + 1], grid + flow)
            error = np.abs(warped - gray[k])[interior]
            unwarped = np.abs(gray[k + 1] - gray[k])[interior]
            moving = (np.linalg.norm(flow, axis=-1)[interior] > 0.3) & (unwarped > 2)
            assert error.mean() < 0.8, (row.Filename, k, error.mean())
            if moving.sum() > 50:
                assert error[moving].mean() < 0.5 * unwarped[moving].mean(), (row.Filename, k)


def test_ground_truth_landmarks_move_with_the_deformation(clean_dataset):
    coding = pd.read_csv(clean_dataset / CODING_FILE, dtype={"Subject": str}).rename(columns={"Estimated Emotion": "emotion"})
    for row in coding.itertuples():
        frames, gt = read_video(clean_dataset, row)
        landmarks, flow = gt["landmarks"].astype(np.float64), gt["flow"].astype(np.float64)
        # Each landmark is carried by the flow: l_k+1 = l_k + F_k(l_k).
        for k in range(len(landmarks) - 1):
            carried = landmarks[k] + bilinear_sample(np.moveaxis(flow[k], 0, -1), landmarks[k])
            assert np.abs(carried - landmarks[k + 1]).max() < 0.05
        # The action moves its own landmarks far more than the nose tip (head motion only).
        apex = list(gt["frame_numbers"]).index(row.ApexFrame)
        move = np.linalg.norm(landmarks[apex] - landmarks[0], axis=-1)
        anchors = {"happiness": [48, 54], "surprise": [19, 24], "disgust": [31, 35], "repression": [51, 57]}
        if row.emotion in anchors:
            assert move[anchors[row.emotion]].min() > 1.0, (row.emotion, move[anchors[row.emotion]])
            assert move[anchors[row.emotion]].min() > 2 * move[30], row.emotion
        # Before the onset (padding) the face is neutral apart from head motion.
        assert move.max() > 0.5


def test_dlib_finds_every_synthetic_face_near_its_true_landmarks(clean_dataset):
    coding = pd.read_csv(clean_dataset / CODING_FILE, dtype={"Subject": str}).drop_duplicates("Subject")
    for row in coding.itertuples():
        frames, gt = read_video(clean_dataset, row)
        found = detect_landmarks(cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY))
        assert found is not None, row.Subject
        truth = gt["landmarks"][0]
        iod = np.linalg.norm(truth[45] - truth[36])
        nme = np.linalg.norm(found - truth, axis=-1).mean() / iod
        assert nme < 0.06, (row.Subject, nme)


def test_bad_settings_and_faces_folder_are_reported(tmp_path):
    with pytest.raises(ValueError, match="unknown synthetic classes"):
        SyntheticSettings(classes=("joy",))
    with pytest.raises(DataError, match="at least two face photographs"):
        generate_dataset(tmp_path / "x", tmp_path, SyntheticSettings(subjects=1), verbose=False)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="distractor is a probability"):
        SyntheticSettings(distractor=1.5)


def test_distractors_add_random_points_to_every_class_and_change_nothing_when_off():
    landmarks = np.stack(np.meshgrid(np.linspace(40, 150, 17), np.linspace(60, 170, 4)), -1).reshape(-1, 2)[:68]
    args = dict(
        landmarks=landmarks,
        up=(0.0, -1.0),
        eye_distance_px=50.0,
        n_frames=20,
        onset=2,
        offset=17,
        amplitude=(2.0, 2.0),
        head_motion_px=0.3,
        head_motion_deg=0.1,
    )
    plain = draw_motion(np.random.default_rng(5), "happiness", **args)
    # Off (the default): the random stream and so the video are those without the option.
    assert draw_motion(np.random.default_rng(5), "happiness", **args, distractor=0.0) == plain
    # Always on: the expression's two actions, then 1-2 points of the "others" pool.
    for seed in range(10):
        moved = draw_motion(np.random.default_rng(seed), "happiness", **args, distractor=1.0)
        assert [c.centre for c in moved.components[:2]] == [tuple(landmarks[48]), tuple(landmarks[54])]
        extra = {tuple(c.centre) for c in moved.components[2:]}
        assert 1 <= len(extra) <= 2
        assert extra <= {tuple(p) for p in landmarks[OTHERS_POOL]}
