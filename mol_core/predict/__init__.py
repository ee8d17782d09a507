"""Prediction on new videos: the :class:`Predictor` API, its command
(``python -m mol_core.predict``), overlays, and the workflow's showcase of test videos."""

from .predictor import ClipPrediction, Predictor, VideoPrediction

__all__ = ["ClipPrediction", "Predictor", "VideoPrediction"]
