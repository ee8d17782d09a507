"""The embedded synthetic micro-expression dataset (frames, coding table, exact ground truth).

The file layout (:mod:`mol_core.synthetic.layout`) is light; the generator (OpenCV, dlib)
is imported only when one of its names is used."""

from .layout import CODING_FILE, GROUND_TRUTH_DIR, load_ground_truth

__all__ = ["CLASSES", "CODING_FILE", "GROUND_TRUTH_DIR", "SyntheticSettings", "generate_dataset", "load_ground_truth"]

_LAZY = {"SyntheticSettings": "generate", "generate_dataset": "generate", "CLASSES": "motion"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
