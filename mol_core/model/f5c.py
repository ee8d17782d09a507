"""F5C block: FCC and CCC, each with a residual connection (paper section 3.2), and the
ablations of Tables 9 and 11 (no FCC, no CCC, FCC-V or FCC-H only, a transformer for FCC)."""

from __future__ import annotations

from torch import Tensor, nn

from .ccc import CCC, CCC_GRAPHS
from .fcc import FCC
from .transformer import TransformerBlock

GLOBAL_BLOCKS = ("fcc", "fcc_v", "fcc_h", "transformer", "none")


class F5C(nn.Module):
    """[N,C,H,W] -> [N,C,H,W]: ``y = x + FCC(x)``, ``z = y + CCC(y)``.

    ``fcc``: ``"fcc"`` (paper), ``"fcc_v"`` / ``"fcc_h"`` (one direction), ``"transformer"``
    (a vanilla transformer block) or ``"none"``; ``ccc``: ``"channel"`` (paper),
    ``"spatial"`` (the authors' code) or ``"none"``.

    ``zero_init`` (default): the last layer of every branch starts at zero (the 1x1 fusion
    of FCC and CCC, the transformer's output layers), as the last layer of a residual
    branch often does, so every variant starts as the identity and local motion cues are
    not scrambled by random global mixings before training has begun. With random branches
    the synthetic benchmark learned several times slower (measured). The paper does not
    say how it initialises; ``zero_init=False`` keeps PyTorch's default initialisation.
    """

    def __init__(
        self, channels: int = 128, height: int = 16, width: int = 16, k: int = 4, fcc: str = "fcc", ccc: str = "channel", zero_init: bool = True
    ):
        super().__init__()
        if fcc not in GLOBAL_BLOCKS:
            raise ValueError(f"fcc must be one of {GLOBAL_BLOCKS}, got {fcc!r}")
        if ccc not in CCC_GRAPHS + ("none",):
            raise ValueError(f"ccc must be one of {CCC_GRAPHS + ('none',)}, got {ccc!r}")
        directions = {"fcc": "both", "fcc_v": "vertical", "fcc_h": "horizontal"}
        self.fcc: nn.Module | None
        if fcc in directions:
            self.fcc = FCC(channels, height, width, directions[fcc])
        elif fcc == "transformer":
            self.fcc = TransformerBlock(channels, height, width, zero_init=zero_init)
        else:
            self.fcc = None
        self.ccc = CCC(channels, height, width, k, graph=ccc) if ccc != "none" else None
        if zero_init:
            for conv in (getattr(self.fcc, "fuse", None), getattr(self.ccc, "out", None)):
                if conv is not None:
                    nn.init.zeros_(conv.weight)
                    nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.fcc is not None:
            x = x + self.fcc(x)
        if self.ccc is not None:
            x = x + self.ccc(x)
        return x
