"""FlowNetC correlation layer in pure PyTorch (no custom CUDA)."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor


def displacements(max_displacement: int, stride: int) -> Tensor:
    """Displacements [D,2] (dy, dx), row-major, each in ``range(-max, max+1, stride)``."""
    steps = torch.arange(-max_displacement, max_displacement + 1, stride)
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([dy.reshape(-1), dx.reshape(-1)], dim=1)


def correlation(first: Tensor, second: Tensor, max_displacement: int = 20, stride: int = 2) -> Tensor:
    """[N,C,H,W] x [N,C,H,W] -> [N,D,H,W] with D = (2*max/stride + 1)^2:
    ``out[n,d,y,x] = <first[n,:,y,x], second[n,:,y+dy,x+dx]> / C`` (0 outside the map).

    All position pairs are correlated by one batched matmul ([N,HW,HW]) and the D wanted
    displacements gathered from it: exact, vectorised, and cheap at feature-map sizes.
    """
    n, c, h, w = first.shape
    full = torch.bmm(first.reshape(n, c, h * w).transpose(1, 2), second.reshape(n, c, h * w)) / c
    full = F.pad(full, (0, 1))  # column HW is the zero used for displacements off the map
    index = gather_index(h, w, max_displacement, stride, first.device).expand(n, -1, -1)  # [N,HW,D]
    out = torch.gather(full, 2, index)  # [N,HW,D]
    return out.transpose(1, 2).reshape(n, -1, h, w)


@functools.lru_cache(maxsize=16)
def gather_index(h: int, w: int, max_displacement: int, stride: int, device: torch.device) -> Tensor:
    """[1,HW,D] column of each position's displaced partner in the padded correlation matrix
    (HW: off the map), made once per map size and device: no table is built on the host and
    copied to the device in each forward pass."""
    disp = displacements(max_displacement, stride).to(device)
    ys = torch.arange(h, device=device).view(1, h, 1)
    xs = torch.arange(w, device=device).view(1, 1, w)
    ty = ys + disp[:, 0].view(-1, 1, 1)
    tx = xs + disp[:, 1].view(-1, 1, 1)
    inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
    target = torch.where(inside, ty * w + tx, torch.full_like(ty, h * w))  # [D,H,W]
    return target.permute(1, 2, 0).reshape(1, h * w, -1)
