"""``train.targets``: what the flow and landmark heads learn from (issue 29, item 3)."""

from __future__ import annotations

import numpy as np
import pytest

from mol_core.clips.data import ClipDataset, StoreCache
from mol_core.clips.index import build_clip_index
from mol_core.clips.targets import global_motion, without_global_motion
from mol_core.errors import ConfigError, DataError
from mol_core.train.evaluate import exact_targets
from mol_core.train.loop import TrainSettings

from .conftest import SMALL_PREPARATION, markers_of


@pytest.fixture(scope="module")
def clips(small_stores, small_videos):
    return build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)[0]


def affine_field(pairs: int, size: int, rng) -> np.ndarray:
    """[P,2,S,S] flows, each x and y a random plane a + b x + c y (pixels)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    coefficients = rng.normal(size=(pairs, 2, 3)).astype(np.float32)
    return coefficients[..., :1, None] + coefficients[..., 1:2, None] * xs / 10 + coefficients[..., 2:3, None] * ys / 10


def test_global_motion_is_each_pairs_affine_field_and_nothing_else():
    rng = np.random.default_rng(0)
    rigid = affine_field(3, 32, rng)
    np.testing.assert_allclose(global_motion(rigid), rigid, atol=1e-4)
    np.testing.assert_allclose(without_global_motion(rigid), 0, atol=1e-4)
    bump = np.zeros_like(rigid)
    bump[:, 1, 10:14, 20:24] = -1.5  # an eyebrow raised by 1.5 px over a 4x4 patch
    residual = without_global_motion(rigid + bump)
    np.testing.assert_allclose(residual, without_global_motion(bump), atol=1e-4)  # the rigid part is gone
    assert residual[:, 1, 10:14, 20:24].mean() < -1.4  # the local motion stays (minus its small affine share)
    assert abs(residual[:, 1, :8, :8]).max() < 0.1
    assert without_global_motion(rigid.astype(np.float16)).dtype == np.float16


def test_exact_targets_replace_the_teachers_with_the_generators_truth(clips):
    row = clips.iloc[0]
    teacher, exact = ClipDataset(clips.iloc[:1])[0], ClipDataset(clips.iloc[:1], cache=StoreCache("exact"))[0]
    frames = [int(f) for f in row.frames]
    truth = exact_targets(row.truth, row.onset, row.store, frames)
    np.testing.assert_allclose(exact["flow"].numpy(), truth["flow"], atol=2e-3)  # float16 like the stores
    np.testing.assert_allclose(exact["landmarks"].numpy(), truth["landmarks"], atol=1e-3)
    np.testing.assert_array_equal(exact["frames"].numpy(), teacher["frames"].numpy())
    assert not np.allclose(exact["flow"].numpy(), teacher["flow"].numpy(), atol=0.05)  # TV-L1 is not exact


def test_expression_targets_drop_exactly_the_head_motion(clips):
    """The expression-only flow is the exact flow less the head's: on a pair with head motion
    the two differ; in the store's frame the landmarks are the same exact ones."""
    one = clips.iloc[:1]
    exact = ClipDataset(one, cache=StoreCache("exact"))[0]
    expression = ClipDataset(one, cache=StoreCache("expression"))[0]
    np.testing.assert_array_equal(exact["landmarks"].numpy(), expression["landmarks"].numpy())
    assert not np.allclose(exact["flow"].numpy(), expression["flow"].numpy(), atol=1e-3)
    # the expression moves a part of the face; the head moves all of it: the expression flow is
    # zero over most of the crop
    still = (np.linalg.norm(expression["flow"].numpy(), axis=1) < 0.01).mean()
    assert still > 0.5, still


def test_residual_targets_are_the_teachers_flow_less_its_global_motion(clips):
    row = clips.iloc[0]
    teacher = StoreCache().get(row.store, row.flow)
    residual = StoreCache("residual").get(row.store, row.flow)
    np.testing.assert_allclose(residual["flow"].astype(np.float32), without_global_motion(teacher["flow"]).astype(np.float32), atol=1e-3)
    np.testing.assert_array_equal(residual["landmarks"], teacher["landmarks"])


def test_exact_targets_outside_the_synthetic_set_fail_by_name(clips):
    foreign = clips.iloc[:1].assign(truth=None)
    with pytest.raises(DataError, match="exact ground truth"):
        ClipDataset(foreign, cache=StoreCache("exact"))[0]


def test_the_setting_is_checked():
    assert TrainSettings().targets == "teacher"
    assert TrainSettings(targets="residual").targets == "residual"
    with pytest.raises(ConfigError, match="targets must be one of"):
        TrainSettings(targets="dlib")
    with pytest.raises(ValueError, match="targets must be one of"):
        StoreCache("dlib")
