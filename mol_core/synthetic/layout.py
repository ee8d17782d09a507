"""The synthetic dataset's file layout (see :mod:`mol_core.synthetic.generate`): the one
place that the generator, the loader and the exact-truth evaluation read it from. Light:
numpy only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CODING_FILE = "coding.csv"
GROUND_TRUTH_DIR = "ground_truth"
EXTRA_DIR = "extra"  # unlabelled videos of the extra identities: {root}/extra/{ext01..}/{EP01..}/img{N}.png


def ground_truth_file(root: str | Path, subject: str, video: str) -> Path:
    """Where the exact ground truth of one video is: ``{root}/ground_truth/{subject}/{video}.npz``."""
    return Path(root) / GROUND_TRUTH_DIR / subject / f"{video}.npz"


def read_ground_truth(path: str | Path) -> dict[str, np.ndarray]:
    """Exact ground truth of one video from its file: ``flow``, ``landmarks``,
    ``frame_numbers`` (see module doc)."""
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def load_ground_truth(root: str | Path, subject: str, video: str) -> dict[str, np.ndarray]:
    """Exact ground truth of one video of the dataset at ``root``."""
    return read_ground_truth(ground_truth_file(root, subject, video))
