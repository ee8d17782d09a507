"""Preprocessing on synthetic videos with exact ground truth: stores, landmarks, flow."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from mol_core.errors import DataError
from mol_core.metrics import landmark_nme
from mol_core.preprocess import open_store, preprocess_video, store_status, tvl1_flow
from mol_core.store.keys import PreprocessSettings

from .conftest import SMALL_FLOW, SMALL_SAMPLING
from .helpers import small_truth


def test_store_layout_matches_the_design(small_stores, small_videos):
    row = small_videos.iloc[0]
    store = open_store(small_stores / row.subject / f"{row.video}.zarr")
    n = len(row.frames)
    pairs = SMALL_SAMPLING.pairs(n)
    assert store["frames"].shape == (n, 144, 144) and store["frames"].dtype == np.uint8
    assert store["landmarks"].shape == (n, 68, 2) and store["landmarks"].dtype == np.float32
    name = SMALL_FLOW
    assert name.startswith("uniform_t4-")
    assert store[f"pairs/{name}"].dtype == np.int32
    assert store[f"pairs/{name}"][:].tolist() == [list(p) for p in pairs]
    assert store[f"flow/{name}"].shape == (len(pairs), 2, 144, 144) and store[f"flow/{name}"].dtype == np.float16
    assert store["frames"].chunks == (1, 144, 144)
    attrs = dict(store.attrs)
    assert attrs["complete"] is True and attrs["source"]["video"] == row.video
    assert attrs["align"] == "per_frame" and np.asarray(attrs["transforms"]).shape == (n, 2, 3) and "transform" not in attrs
    assert attrs["params"] == PreprocessSettings().store_params()
    assert store[f"flow/{name}"].attrs["params"]["tvl1"]["nscales"] == 5 and store[f"flow/{name}"].attrs["complete"]


def test_landmarks_and_flow_against_exact_ground_truth(small_stores, small_videos, small_dataset):
    """dlib NME and TV-L1 end-point error in the aligned crop, bounded and reported."""
    nmes, epes, gains = [], [], []
    for row in small_videos.itertuples():
        store = open_store(small_stores / row.subject / f"{row.video}.zarr")
        pairs = store[f"pairs/{SMALL_FLOW}"][:]
        truth = small_truth(small_dataset, row, store, pairs)
        nmes.append(landmark_nme(store["landmarks"][:], truth["landmarks"]).mean())
        flow = store[f"flow/{SMALL_FLOW}"][:].astype(np.float64)
        face = (slice(None), slice(None), slice(24, 120), slice(24, 120))
        epes.append(np.linalg.norm(flow - truth["flow"], axis=1)[face[:1] + face[2:]].mean())
        # Where the face really moves, TV-L1 recovers most of the motion.
        magnitude = np.linalg.norm(truth["flow"], axis=1)
        moving = magnitude > 0.5
        if moving.sum() > 100:
            projected = (flow * truth["flow"]).sum(1)[moving] / magnitude[moving]
            gains.append(projected.mean() / magnitude[moving].mean())
    print(
        f"dlib NME {np.mean(nmes):.4f} (max {np.max(nmes):.4f}); TV-L1 EPE {np.mean(epes):.3f} px "
        f"(max {np.max(epes):.3f}); gain on moving pixels {np.mean(gains):.2f}"
    )
    assert np.max(nmes) < 0.05
    assert np.mean(epes) < 0.25 and np.max(epes) < 0.4
    assert len(gains) >= 5 and np.mean(gains) > 0.5


def test_tvl1_flow_follows_a_known_shift():
    rng = np.random.default_rng(0)
    base = (rng.random((80, 80)) * 255).astype(np.float32)
    import cv2

    base = cv2.GaussianBlur(base, (0, 0), 2.0)
    shifted = np.roll(base, 2, axis=1)  # content moves 2 px to the right
    flow = tvl1_flow(base.astype(np.uint8), shifted.astype(np.uint8))
    assert flow.shape == (2, 80, 80) and flow.dtype == np.float32
    assert np.median(flow[0, 10:-10, 10:-10]) == pytest.approx(2.0, abs=0.1)
    assert np.abs(np.median(flow[1, 10:-10, 10:-10])) < 0.1
    with pytest.raises(ValueError, match="grey uint8"):
        tvl1_flow(base, shifted)
    with pytest.raises(ValueError, match="unknown TV-L1 parameters"):
        tvl1_flow(base.astype(np.uint8), shifted.astype(np.uint8), lambd=0.1)


def test_video_without_a_face_is_skipped_with_its_reason(tmp_path, small_videos):
    import cv2

    paths = []
    for k in range(6):
        path = tmp_path / f"blank{k}.png"
        cv2.imwrite(str(path), np.full((120, 100), 128, np.uint8))
        paths.append(str(path))
    out = tmp_path / "s" / "v.zarr"
    summary = preprocess_video(paths, out, PreprocessSettings(cnn_frames=1), [SMALL_SAMPLING], {"video": "v"})
    assert summary.status == "skipped" and "no face found" in summary.reason
    assert store_status(out) == ("skipped", summary.reason)
    with pytest.raises(DataError, match="skipped"):
        open_store(out)
    # A face video shorter than the clip length: the store is made, the flow is skipped.
    frames = list(small_videos.frames.iloc[0])[:3]
    short = preprocess_video(frames, tmp_path / "short.zarr", PreprocessSettings(), [SMALL_SAMPLING], {})
    assert short.store.status == "complete"
    assert short.status == "skipped" and short.reason == "only 3 frames, fewer than the clip length t=4"
    missing = preprocess_video(paths[:3] + [str(tmp_path / "gone.png")], tmp_path / "m.zarr", PreprocessSettings(), [SMALL_SAMPLING], {})
    assert "gone.png" in missing.reason


def test_partial_store_is_never_trusted(small_stores, small_videos, tmp_path):
    row = small_videos.iloc[0]
    good = small_stores / row.subject / f"{row.video}.zarr"
    partial = tmp_path / "partial.zarr"
    group = zarr.open_group(str(partial), mode="w", zarr_format=3)
    group.create_array("frames", data=zarr.open_group(str(good), mode="r")["frames"][:])
    assert store_status(partial)[0] == "invalid"
    with pytest.raises(DataError, match="incomplete store"):
        open_store(partial)
    assert store_status(tmp_path / "absent.zarr")[0] == "invalid"
    # No temporary folders are left beside a finished store.
    assert not [p for p in good.parent.iterdir() if p.name.startswith(".")]
