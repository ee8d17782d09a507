"""Device choice and determinism for training and inference."""

from __future__ import annotations

import torch


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; from the host to a GPU through pinned memory and without
    waiting for the copy (the step's next kernels are queued behind it on the same stream)."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def set_determinism(seed: int, deterministic: bool = True) -> None:
    """Seed torch's generators; ``deterministic``: cuDNN picks only deterministic algorithms
    and benchmarks none (the same run gives the same weights on a GPU), else it benchmarks
    each convolution's shape and may pick faster non-deterministic ones (ConvTranspose2d,
    Conv3d backward). The CPU's kernels are deterministic either way."""
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
