"""MOL: joint micro-expression recognition, optical flow estimation and 68-point
landmark detection (Shao et al., TPAMI), as an importable library.

Stages (each usable without Snakemake, each with a ``python -m`` entry point):
``mol_core.synthetic`` (embedded dataset), ``mol_core.datasets`` (video tables),
``mol_core.preprocess`` (aligned frames, landmarks, TV-L1 flow in Zarr stores),
``mol_core.clips`` (clip index), ``mol_core.train`` (one LOSO fold),
``mol_core.report`` (metrics tables), ``mol_core.predict`` (new videos).

The inference API, :class:`mol_core.Predictor` (from :mod:`mol_core.predict`), is loaded on
first use, so ``import mol_core`` stays light (no torch, no OpenCV).
"""

import importlib

__version__ = "0.1.0"

_LAZY = {"Predictor": "mol_core.predict", "VideoPrediction": "mol_core.predict", "ClipPrediction": "mol_core.predict"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mol_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
