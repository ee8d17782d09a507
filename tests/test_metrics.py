"""Paper metrics against scikit-learn, on random and degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from mol_core.metrics import classification_metrics, failure_rate, flow_epe, landmark_nme


def sklearn_metrics(y_true, y_pred):
    present = sorted(set(y_true) | set(y_pred))
    truth = sorted(set(y_true))
    return {
        "acc": accuracy_score(y_true, y_pred),
        "wf1": f1_score(y_true, y_pred, average="weighted", labels=truth, zero_division=0),
        "uf1": f1_score(y_true, y_pred, average="macro", labels=present, zero_division=0),
        "uar": recall_score(y_true, y_pred, average="macro", labels=truth, zero_division=0),
    }


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_sklearn_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 5, 60), rng.integers(0, 5, 60)
    ours = classification_metrics(y_true, y_pred, 5)
    for key, value in sklearn_metrics(list(y_true), list(y_pred)).items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize(
    "y_true, y_pred",
    [
        ([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]),  # class 2 never predicted
        ([0, 0, 1, 1, 1, 0], [0, 2, 1, 1, 2, 0]),  # class 2 absent from the truth
        ([0, 1, 0, 1], [0, 1, 0, 1]),  # classes 2..4 neither true nor predicted
        ([3, 3, 3], [1, 1, 1]),  # all wrong
    ],
)
def test_agrees_with_sklearn_on_degenerate_labels(y_true, y_pred):
    ours = classification_metrics(y_true, y_pred, 5)
    for key, value in sklearn_metrics(y_true, y_pred).items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_values_by_hand():
    m = classification_metrics([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1], 3)
    assert m["acc"] == pytest.approx(4 / 6)
    assert m["uf1"] == pytest.approx((1 + 2 * 2 / (4 + 2) + 0) / 3)
    assert m["uar"] == pytest.approx((1 + 1 + 0) / 3)
    with pytest.raises(ValueError, match="outside"):
        classification_metrics([0, 5], [0, 1], 5)


def test_auxiliary_metrics():
    gt = np.zeros((2, 2, 4, 4))
    pred = gt.copy()
    pred[:, 0] = 3.0
    pred[:, 1] = 4.0
    assert flow_epe(pred, gt) == pytest.approx(5.0)
    face = np.zeros((68, 2))
    face[42:48] = (10, 0)  # eye centres 10 px apart
    face[36], face[45] = (-2, 0), (12, 0)  # outer corners 14 px apart; the centres move to -1/3 and 31/3
    shifted = face + [0.5, 0.0]
    centres = np.linalg.norm(face[42:48].mean(0) - face[36:42].mean(0))
    assert landmark_nme(shifted, face) == pytest.approx(0.5 / centres)  # the authors' normaliser by default
    assert landmark_nme(shifted, face, "outer_corners") == pytest.approx(0.5 / 14)
    with pytest.raises(ValueError, match="normaliser"):
        landmark_nme(shifted, face, "pupils")
    assert failure_rate([0.05, 0.2, 0.11, 0.01]) == pytest.approx(0.5)
