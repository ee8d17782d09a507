"""The arithmetic a training step runs in, by device (``train.amp``).

With ``amp`` on CUDA: bfloat16 autocast where the device supports it (no loss scaling
needed: bf16 has float32's exponent range), else float16 autocast with a GradScaler. On
the CPU, and everywhere with ``amp: false``, float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Precision:
    """``name``: "bf16", "fp16" or "fp32"; ``dtype``: the autocast dtype (None: no
    autocast); ``scaled``: whether the loss needs a GradScaler (fp16)."""

    name: str
    dtype: torch.dtype | None
    scaled: bool

    def autocast(self, device: torch.device):
        """The context a forward pass runs in (autocast disabled for fp32)."""
        return torch.autocast(device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)


FP32 = Precision("fp32", None, False)
BF16 = Precision("bf16", torch.bfloat16, False)
FP16 = Precision("fp16", torch.float16, True)


def training_precision(device: torch.device, amp: bool) -> Precision:
    """bf16 on CUDA devices that support it, else fp16 on CUDA; fp32 on the CPU or without ``amp``."""
    if not amp or device.type != "cuda":
        return FP32
    return BF16 if native_bf16() else FP16


def native_bf16() -> bool:
    """Whether the current CUDA device computes in bf16 natively (compute capability 8.0
    and later; torch >= 2.3 also reports emulated bf16, which is slow, unless asked not to)."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3: no emulation reported
        return torch.cuda.is_bf16_supported()
