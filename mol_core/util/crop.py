"""The side of the square window the network reads: training cuts it at random (or within
``crop_jitter``) from the aligned store frames, evaluation at their centre. One constant for
the clip datasets, the device batches, the model's input check and the landmark head's
placeholder mean shape."""

from __future__ import annotations

CROP = 128  # pixels
