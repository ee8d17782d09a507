"""Transformer-style fully-connected convolution (FCC), paper eq. 1-3 and Fig. 3."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def circulant(kernel: Tensor) -> Tensor:
    """Per-channel circulant matrices [C,L,L] of a kernel [C,L]: ``out[c,i,m] = kernel[c,(m-i)%L]``,
    so ``(circulant(U) @ x)[c,i] = sum_s U[c,s] x[c,(i+s)%L]`` (eq. 2)."""
    length = kernel.shape[-1]
    i = torch.arange(length, device=kernel.device)
    return kernel[:, (i[None, :] - i[:, None]) % length]


class FCCAxis(nn.Module):
    """FCC-V (``axis="v"``, along H) or FCC-H (``axis="h"``, along W) on [N,C,H,W].

    Adds a positional embedding P [C,L] broadcast over the other axis (eq. 1/3a), then a
    per-channel circular convolution over the full column or row with a learnable U [C,L]
    (eq. 2/3b), computed as one batched matmul with the circulant matrix of U.
    """

    def __init__(self, channels: int, length: int, axis: str):
        super().__init__()
        if axis not in ("v", "h"):
            raise ValueError(f"axis must be 'v' or 'h', got {axis!r}")
        self.axis, self.length = axis, length
        self.position = nn.Parameter(torch.zeros(channels, length))
        self.kernel = nn.Parameter(torch.randn(channels, length) / length**0.5)
        nn.init.trunc_normal_(self.position, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[2] if self.axis == "v" else x.shape[3]
        if size != self.length:
            raise ValueError(f"FCC-{self.axis.upper()} was built for length {self.length}, got input {tuple(x.shape)}")
        matrix = circulant(self.kernel)  # [C,L,L]
        if self.axis == "v":
            x = x + self.position[None, :, :, None]
            return torch.einsum("cim,ncmw->nciw", matrix, x)
        x = x + self.position[None, :, None, :]
        return torch.einsum("cjm,nchm->nchj", matrix, x)


FCC_DIRECTIONS = ("both", "vertical", "horizontal")


class FCC(nn.Module):
    """[N,C,H,W] -> [N,C,H,W]: a 1x1 conv, then two branches FCC-V->FCC-H and FCC-H->FCC-V,
    concatenated and fused by a 1x1 conv (Fig. 3). ``directions="vertical"`` or
    ``"horizontal"`` keeps a single FCC-V or FCC-H branch (Table 11's FCC-V / FCC-H rows)."""

    def __init__(self, channels: int = 128, height: int = 16, width: int = 16, directions: str = "both"):
        super().__init__()
        if directions not in FCC_DIRECTIONS:
            raise ValueError(f"FCC directions must be one of {FCC_DIRECTIONS}, got {directions!r}")
        self.pre = nn.Conv2d(channels, channels, kernel_size=1)
        branches: list[nn.Module]
        if directions == "both":
            branches = [
                nn.Sequential(FCCAxis(channels, height, "v"), FCCAxis(channels, width, "h")),
                nn.Sequential(FCCAxis(channels, width, "h"), FCCAxis(channels, height, "v")),
            ]
        elif directions == "vertical":
            branches = [FCCAxis(channels, height, "v")]
        else:
            branches = [FCCAxis(channels, width, "h")]
        self.branches = nn.ModuleList(branches)
        self.fuse = nn.Conv2d(len(branches) * channels, channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pre(x)
        return self.fuse(torch.cat([branch(x) for branch in self.branches], dim=1))
