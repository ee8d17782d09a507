"""Metrics of the paper (eq. 10a-c) and of the auxiliary tasks.

Conventions: classification metrics are fractions in [0,1]. UF1 averages the F1 of the
classes that occur in the truth or in the predictions: a class with no support and no
prediction has an undefined F1 and is left out (MEGC convention). UAR averages the recall
of the classes present in the truth. WF1 weights each class's F1 by its support.
"""

from __future__ import annotations

import numpy as np

from .face68 import interocular_distance

# Per-video error columns of the auxiliary heads, each beside its trivial baseline (no
# motion; the training set's mean shape) and, on the synthetic set, the same against the
# exact truth with the teacher's own error (TV-L1, dlib). NME: eye-centre normaliser.
FLOW_ERRORS = ["flow_epe", "flow_epe_zero", "flow_epe_exact", "flow_epe_zero_exact", "flow_epe_tvl1_exact"]
LANDMARK_ERRORS = ["landmark_nme", "landmark_nme_mean_shape", "landmark_nme_exact", "landmark_nme_mean_shape_exact", "landmark_nme_dlib_exact"]
LANDMARK_FAILURES = {"landmark_failure": "landmark_nme", "landmark_failure_mean_shape": "landmark_nme_mean_shape"}
BASELINE_OF = {
    "flow_epe": "flow_epe_zero",
    "flow_epe_exact": "flow_epe_zero_exact",
    "landmark_nme": "landmark_nme_mean_shape",
    "landmark_nme_exact": "landmark_nme_mean_shape_exact",
}
FAILURE_NME = 0.10  # a face whose NME exceeds this counts as a failure (paper, Table 15)


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """[num_classes, num_classes] counts, rows = truth, columns = prediction."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes})")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def metrics_from_confusion(matrix: np.ndarray) -> dict[str, float]:
    matrix = np.asarray(matrix, dtype=np.float64)
    total = matrix.sum()
    if total == 0:
        raise ValueError("no samples")
    tp = np.diag(matrix)
    support = matrix.sum(1)
    predicted = matrix.sum(0)
    denom = support + predicted  # 2TP + FP + FN
    defined = denom > 0
    f1 = np.where(defined, 2 * tp / np.where(defined, denom, 1), 0.0)
    present = support > 0
    return {
        "acc": float(tp.sum() / total),
        "wf1": float((f1 * support).sum() / total),
        "uf1": float(f1[defined].mean()),
        "uar": float((tp[present] / support[present]).mean()),
    }


def classification_metrics(y_true, y_pred, num_classes: int) -> dict[str, float]:
    """``acc``, ``wf1``, ``uf1``, ``uar`` (fractions) of integer labels."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, num_classes))


def flow_epe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean end-point error (pixels) of flows [...,2,H,W]."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    return float(np.sqrt(((pred - gt) ** 2).sum(axis=-3)).mean())


def landmark_nme(pred: np.ndarray, gt: np.ndarray, normaliser: str = "eye_centres") -> np.ndarray:
    """Per-face NME [...] of landmarks [...,68,2]: mean point-to-point error over the 68
    points divided by the ground truth's inter-ocular distance, measured between the eye
    centres (the authors' code, so comparable with the paper's Table 15) or the outer eye
    corners (``normaliser="outer_corners"``); see :func:`mol_core.face68.interocular_distance`."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    return np.linalg.norm(pred - gt, axis=-1).mean(-1) / interocular_distance(gt, normaliser)


def failure_rate(nme, threshold: float = FAILURE_NME) -> float:
    """Fraction of faces whose NME exceeds ``threshold``."""
    nme = np.asarray(nme, np.float64)
    return float((nme > threshold).mean())
