"""Prediction on new videos (``python -m mol_core.predict``), overlays, and the workflow's
showcase of test videos."""

from .inference import load_checkpoint, predict_video

__all__ = ["load_checkpoint", "predict_video"]
