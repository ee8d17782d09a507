"""Training: one fold's loop (``python -m mol_core.train``), validation and test prediction."""

from .loop import TrainSettings, train_fold

__all__ = ["TrainSettings", "train_fold"]
