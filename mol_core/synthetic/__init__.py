"""The embedded synthetic micro-expression dataset (frames, coding table, exact ground truth)."""

from .generate import CODING_FILE, SyntheticSettings, generate_dataset, load_ground_truth
from .motion import CLASSES

__all__ = ["CLASSES", "CODING_FILE", "SyntheticSettings", "generate_dataset", "load_ground_truth"]
