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


# Below this many videos, a validation split's loss or accuracy is mostly noise: selection
# on it keeps an arbitrary step (on a 4-video split, one video is 25 points of accuracy).
SMALL_VALIDATION_VIDEOS = 10


def loso_warnings(videos_per_subject: dict[str, int], val_subjects: int, seed: int = 0) -> list[str]:
    """What a LOSO run with ``val_subjects`` validation subjects (drawn with ``seed``, as
    training draws them) would do oddly on a dataset with these videos per subject, each
    with what to change: folds that train on identical subjects (each the other's
    validation subject: with one seed, one model twice) and validation splits under
    :data:`SMALL_VALIDATION_VIDEOS` videos."""
    subjects = loso_folds(videos_per_subject)
    if len(subjects) < 3:
        return []
    by_training: dict[tuple[str, ...], list[str]] = {}
    small = []
    for fold in subjects:
        train, val, _ = split_subjects(subjects, fold, val_subjects, seed)
        by_training.setdefault(tuple(train), []).append(fold)
        videos = sum(videos_per_subject[s] for s in val)
        if videos < SMALL_VALIDATION_VIDEOS:
            small.append(f"{fold} ({videos})")
    out = []
    same = [folds for folds in by_training.values() if len(folds) > 1]
    if same:
        pairs = "; ".join(" and ".join(folds) for folds in same[:5]) + (" ..." if len(same) > 5 else "")
        out.append(
            f"with val_subjects {val_subjects}, {len(same)} group(s) of folds train on identical subjects (each holds out the "
            f"other's test subject for validation), so with one seed they train one model twice: {pairs}; "
            f"another train.seed or val_subjects draws other splits"
        )
    if small:
        need = next(
            (k for k in range(val_subjects + 1, len(subjects)) if min_validation_videos(videos_per_subject, k) >= SMALL_VALIDATION_VIDEOS), None
        )
        advice = (
            f"val_subjects: {need} gives every fold at least {SMALL_VALIDATION_VIDEOS}" if need else "select_on: last avoids selecting on it"
        )
        out.append(
            f"with val_subjects {val_subjects}, {len(small)} of {len(subjects)} folds validate on fewer than {SMALL_VALIDATION_VIDEOS} "
            f"videos, too few to select a step on: {', '.join(small[:6])}{' ...' if len(small) > 6 else ''}; {advice}"
        )
    return out


def min_validation_videos(videos_per_subject: dict[str, int], val_subjects: int) -> int:
    """The fewest videos any fold's validation split can hold with ``val_subjects`` subjects
    (its smallest subjects, its test subject aside)."""
    counts = sorted(videos_per_subject.values())
    return sum(counts[:val_subjects])
