"""Rich-feature extractor: the stack of vanilla convolutions of the paper's Table 1."""

from __future__ import annotations

from torch import Tensor, nn


class ConvStack(nn.Module):
    """[N,1,128,128] -> [N,128,16,16]. Four convolutions (1->8 k4 s2, 8->32 k3 s2,
    32->64 k2 s2 p1, 64->128 k1), with no activation between them, as in Table 1 and the
    authors' code."""

    out_channels = 128

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=4, stride=2),
            nn.Conv2d(8, 32, kernel_size=3, stride=2),
            nn.Conv2d(32, 64, kernel_size=2, stride=2, padding=1),
            nn.Conv2d(64, 128, kernel_size=1),
        )

    def forward(self, frames: Tensor) -> Tensor:
        return self.layers(frames)
