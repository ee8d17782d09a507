"""A vanilla transformer block on feature maps (Table 11: FCC replaced by a transformer)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TransformerBlock(nn.Module):
    """[N,C,H,W] -> [N,C,H,W]: every position is a token of C features with a learned
    positional embedding; pre-norm multi-head self-attention and a two-layer MLP, each with
    a residual connection (Vaswani et al.). It returns the block's change to its input, so
    that the F5C residual ``x + block(x)`` is exactly the transformer block's output.

    ``zero_init`` starts the block as the identity, like the FCC and CCC branches of F5C: the
    positional embedding, the attention's output projection and the MLP's last layer start
    at zero (each still learns: the residual path carries their gradients)."""

    def __init__(self, channels: int = 128, height: int = 16, width: int = 16, heads: int = 4, mlp_ratio: float = 2.0, zero_init: bool = False):
        super().__init__()
        self.position = nn.Parameter(torch.zeros(1, height * width, channels))
        if not zero_init:
            nn.init.trunc_normal_(self.position, std=0.02)
        self.norm1 = nn.LayerNorm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(channels)
        hidden = int(channels * mlp_ratio)
        expand, project = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.mlp = nn.Sequential(expand, nn.GELU(), project)
        if zero_init:
            for layer in (self.attention.out_proj, project):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2) + self.position  # [N,HW,C]
        y = self.norm1(tokens)
        tokens = tokens + self.attention(y, y, y, need_weights=False)[0]
        tokens = tokens + self.mlp(self.norm2(tokens))
        return tokens.transpose(1, 2).reshape(n, c, h, w) - x
