"""Leave-one-subject-out folds and the validation split drawn from training subjects only."""

from __future__ import annotations

import zlib

import numpy as np


def loso_folds(subjects) -> list[str]:
    """One fold per subject, named after the held-out (test) subject, sorted."""
    return sorted({str(s) for s in subjects})


def split_subjects(subjects, fold: str, val_subjects: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(train, validation, test) subject lists for ``fold``. The validation subjects are
    drawn at random (from ``seed`` and the fold name) among the non-test subjects, so the
    test subject never takes part in training or in checkpoint selection."""
    subjects = loso_folds(subjects)
    if fold not in subjects:
        raise ValueError(f"fold {fold!r} is not a subject of this dataset ({len(subjects)} subjects)")
    rest = [s for s in subjects if s != fold]
    n_val = min(int(val_subjects), max(len(rest) - 1, 0))
    rng = np.random.default_rng([seed, zlib.crc32(fold.encode())])
    val = sorted(rng.choice(rest, size=n_val, replace=False).tolist()) if n_val else []
    train = [s for s in rest if s not in val]
    return train, val, [fold]
