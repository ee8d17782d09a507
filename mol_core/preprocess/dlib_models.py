"""Locate the dlib model files shipped by the ``face-recognition-models`` package.

The package's ``__init__`` needs ``pkg_resources``, so it is found with
``importlib.util.find_spec`` and never imported. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from ..errors import MolError

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
CNN_FACE_DETECTOR = "mmod_human_face_detector.dat"


@functools.cache
def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MolError("the dlib models are missing: install the 'face-recognition-models' package (pip install face-recognition-models)")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_path(name: str) -> Path:
    """Absolute path of one dlib model file, with a clear error if it is absent."""
    path = models_dir() / name
    if not path.is_file():
        raise MolError(f"dlib model file not found: {path}")
    return path
