"""Graph-style channel correspondence convolution (CCC), paper eq. 4-5."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def channel_knn(features: Tensor, k: int) -> Tensor:
    """Indices [N,C,k] of each channel's k most cosine-similar channels (itself included, as
    in dynamic graph CNNs). ``features`` [N,C,D] are the flattened channel maps."""
    unit = F.normalize(features, dim=-1)
    similarity = unit @ unit.transpose(1, 2)
    return similarity.topk(k, dim=-1).indices


class CCC(nn.Module):
    """[N,C,H,W] -> [N,C,H,W]. Channels are graph vertices with features f_i in R^{HW}; edges
    to the k nearest channels; edge feature ``e_ij = ReLU(V1 f_i + V2 (f_j - f_i))`` with
    V1, V2 in R^{HWxHW} (eq. 4); max over neighbours (eq. 5); then a 1x1 conv.

    Because ReLU is monotone, ``max_j ReLU(a_i + b_j - b_i) = ReLU(a_i - b_i + max_j b_j)``
    with ``a = V1 f``, ``b = V2 f``: the neighbour maximum is taken on the projected features,
    which avoids materialising the [N,C,k,HW] edge tensor.
    """

    def __init__(self, channels: int = 128, height: int = 16, width: int = 16, k: int = 4):
        super().__init__()
        self.k = k
        dim = height * width
        self.self_weight = nn.Linear(dim, dim, bias=False)  # V1
        self.edge_weight = nn.Linear(dim, dim, bias=False)  # V2
        self.out = nn.Conv2d(channels, channels, kernel_size=1)

    def aggregate(self, x: Tensor) -> Tensor:
        """Eq. 4-5 without the final 1x1 conv: [N,C,H,W] -> [N,C,H,W]."""
        n, c, h, w = x.shape
        f = x.reshape(n, c, h * w)
        neighbours = channel_knn(f.detach(), min(self.k, c))  # [N,C,k]
        a, b = self.self_weight(f), self.edge_weight(f)
        rows = neighbours + torch.arange(n, device=x.device).view(n, 1, 1) * c  # into b as [N*C,HW]
        gathered = b.reshape(n * c, h * w)[rows]  # [N,C,k,HW]
        return F.relu(a - b + gathered.amax(dim=2)).reshape(n, c, h, w)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.aggregate(x))
