"""Leave-one-subject-out folds and the validation split drawn from training subjects only."""

from __future__ import annotations

import zlib

import numpy as np

from ..errors import ConfigError


def loso_folds(subjects) -> list[str]:
    """One fold per subject, named after the held-out (test) subject, sorted."""
    return sorted({str(s) for s in subjects})


def split_validation(subjects, val_subjects: int, seed: int, salt: str) -> tuple[list[str], list[str]]:
    """(train, validation) subjects: ``val_subjects`` drawn at random from ``seed`` and
    ``salt`` (the fold's name), at least one subject always left for training."""
    subjects = loso_folds(subjects)
    n_val = min(int(val_subjects), max(len(subjects) - 1, 0))
    rng = np.random.default_rng([seed, zlib.crc32(salt.encode())])
    val = sorted(rng.choice(subjects, size=n_val, replace=False).tolist()) if n_val else []
    return [s for s in subjects if s not in val], val


def split_subjects(subjects, fold: str, val_subjects: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(train, validation, test) subject lists of a LOSO ``fold``. The validation subjects
    are drawn among the non-test subjects, so the test subject never takes part in training
    or in checkpoint selection."""
    subjects = loso_folds(subjects)
    if fold not in subjects:
        raise ConfigError(f"fold {fold!r} is not a subject of this dataset ({len(subjects)} subjects)")
    train, val = split_validation([s for s in subjects if s != fold], val_subjects, seed, fold)
    return train, val, [fold]
