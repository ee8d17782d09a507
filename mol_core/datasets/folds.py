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
    val = draw_subjects(subjects, n_val, seed, salt)
    return [s for s in subjects if s not in val], val


def official_split(clips) -> tuple[list[str], list[str]] | None:
    """(train, validation) subjects of the owners' split (the clip index's ``split`` column,
    Aff-Wild2), or None where the clips carry none. A subject found in both is refused."""
    if "split" not in clips.columns or not clips.split.isin(["validation"]).any():
        return None
    splits = clips.groupby("subject").split.unique()
    both = sorted(s for s, values in splits.items() if len(values) > 1)
    if both:
        raise ConfigError(f"subjects in both official splits: {both[:5]}")
    val = sorted(s for s, values in splits.items() if values[0] == "validation")
    return sorted(s for s in splits.index if s not in val), val


def draw_subjects(subjects, n: int, seed: int, salt: str) -> list[str]:
    """``n`` of ``subjects`` (all if fewer) drawn at random from ``seed`` and ``salt``, sorted."""
    subjects = loso_folds(subjects)
    if n >= len(subjects):
        return subjects
    rng = np.random.default_rng([seed, zlib.crc32(salt.encode())])
    return sorted(rng.choice(subjects, size=n, replace=False).tolist())


def split_subjects(subjects, fold: str, val_subjects: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(train, validation, test) subject lists of a LOSO ``fold``. The validation subjects
    are drawn among the non-test subjects, so the test subject never takes part in training
    or in checkpoint selection."""
    subjects = loso_folds(subjects)
    if fold not in subjects:
        raise ConfigError(f"fold {fold!r} is not a subject of this dataset ({len(subjects)} subjects)")
    train, val = split_validation([s for s in subjects if s != fold], val_subjects, seed, fold)
    return train, val, [fold]
