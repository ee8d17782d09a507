"""Metrics of the paper (eq. 10a-c) and of the auxiliary tasks.

Conventions: classification metrics are fractions in [0,1]. UF1 averages the F1 of the
classes that occur in the truth or in the predictions: a class with no support and no
prediction has an undefined F1 and is left out (MEGC convention). UAR averages the recall
of the classes present in the truth. WF1 weights each class's F1 by its support.
"""

from __future__ import annotations

import numpy as np

from .face68 import LEFT_EYE_OUTER, RIGHT_EYE_OUTER


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


def landmark_nme(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-face NME [...]: mean point-to-point error over the 68 points divided by the
    inter-ocular distance (outer eye corners 36 and 45) of the ground truth."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    iod = np.linalg.norm(gt[..., RIGHT_EYE_OUTER, :] - gt[..., LEFT_EYE_OUTER, :], axis=-1)
    return np.linalg.norm(pred - gt, axis=-1).mean(-1) / iod


def failure_rate(nme, threshold: float = 0.10) -> float:
    """Fraction of faces whose NME exceeds ``threshold``."""
    nme = np.asarray(nme, np.float64)
    return float((nme > threshold).mean())
