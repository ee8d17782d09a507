"""MOL: rich features per frame, F5C per frame, and the MER, flow and landmark heads."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .conv_stack import ConvStack
from .f5c import F5C
from .heads import FlowHead, LandmarkHead, MERHead

INPUT_SIZE = 128
FEATURE_SIZE = 16

# MER input fusion (paper Table 12): how the frame features F_0..F_{t-1} become the sequence
# the 3D CNN reads. "concat" (the paper's choice) stacks F_k and F_k+1 on channels.
FUSIONS = {
    "concat": "F_k (+) F_k+1 on channels, k = 0..t-2",
    "add": "F_k + F_k+1, k = 0..t-2",
    "subtract": "F_k - F_k+1, k = 0..t-2",
    "first": "F_0..F_t-2",
    "last": "F_1..F_t-1",
    "all": "F_0..F_t-1",
}


def fuse(features: Tensor, fusion: str) -> Tensor:
    """Frame features [B,T,C,H,W] -> MER input [B,C',T',H,W] (channels first for Conv3d)."""
    first, second = features[:, :-1], features[:, 1:]
    sequence = {
        "concat": lambda: torch.cat([first, second], dim=2),
        "add": lambda: first + second,
        "subtract": lambda: first - second,
        "first": lambda: first,
        "last": lambda: second,
        "all": lambda: features,
    }[fusion]()
    return sequence.transpose(1, 2)


class MOL(nn.Module):
    """Joint MER, optical flow and landmark network.

    ``forward(x)`` with x float [B,1,T,128,128] (grey frames scaled to [0,1]) returns a dict:
    ``logits`` [B,num_classes]; ``flow`` [B,T-1,2,128,128] (pixels, pair k -> k+1);
    ``landmarks`` [B,T-1,68,2] (frames 1..T-1, crop pixels). A disabled head has no key.

    Each frame's rich features and F5C features are computed once (the authors' code runs
    them twice for inner frames) and the T-1 pairs are batched through the heads.

    Options: ``f5c_blocks`` (F5C blocks per frame, 0 = none), ``knn`` (CCC neighbours),
    ``flow_head`` / ``landmark_head`` (auxiliary tasks on/off), ``flow_width`` (channel
    multiplier of the flow head; 1.0 = the authors' size), ``flow_batch_norm``, ``dropout``.
    """

    def __init__(self, num_classes: int, frames: int = 8, *, f5c_blocks: int = 1, knn: int = 4,
                 flow_head: bool = True, landmark_head: bool = True, flow_width: float = 1.0,
                 flow_batch_norm: bool = True, dropout: float = 0.5, fusion: str = "concat"):
        super().__init__()
        if frames < 2:
            raise ValueError(f"MOL needs at least 2 frames, got frames={frames}")
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; one of {', '.join(FUSIONS)}")
        self.num_classes, self.frames, self.fusion = num_classes, frames, fusion
        self.features = ConvStack()
        c = ConvStack.out_channels
        self.f5c = nn.Sequential(*[F5C(c, FEATURE_SIZE, FEATURE_SIZE, knn) for _ in range(f5c_blocks)])
        mer_channels = 2 * c if fusion == "concat" else c
        mer_steps = frames if fusion == "all" else frames - 1
        self.mer = MERHead(mer_channels, mer_steps, num_classes, FEATURE_SIZE, dropout)
        self.flow = FlowHead(2 * c, flow_width, flow_batch_norm) if flow_head else None
        self.landmarks = LandmarkHead(c, FEATURE_SIZE) if landmark_head else None

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        expected = (self.frames, INPUT_SIZE, INPUT_SIZE)
        if x.dim() != 5 or x.shape[1] != 1 or tuple(x.shape[2:]) != expected:
            raise ValueError(f"MOL expects input [B,1,{self.frames},{INPUT_SIZE},{INPUT_SIZE}], got {list(x.shape)}")
        b, _, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, 1, h, w)
        feats = self.f5c(self.features(frames))  # [B*T,C,16,16]
        feats = feats.view(b, t, *feats.shape[1:])
        out = {"logits": self.mer(fuse(feats, self.fusion))}
        second = feats[:, 1:]  # F_1..F_T-1, [B,T-1,C,16,16]
        if self.flow is not None:
            pairs = torch.cat([feats[:, :-1], second], dim=2)  # [B,T-1,2C,16,16]
            images = x[:, 0]  # [B,T,128,128]
            flow = self.flow(
                images[:, :-1].reshape(-1, 1, h, w),
                images[:, 1:].reshape(-1, 1, h, w),
                pairs.reshape(b * (t - 1), *pairs.shape[2:]),
            )
            out["flow"] = flow.view(b, t - 1, 2, h, w)
        if self.landmarks is not None:
            out["landmarks"] = self.landmarks(second.reshape(b * (t - 1), *second.shape[2:])).view(b, t - 1, 68, 2)
        return out

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per part."""
        parts = {"conv_stack": self.features, "f5c": self.f5c, "mer_head": self.mer,
                 "flow_head": self.flow, "landmark_head": self.landmarks}
        counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items() if m is not None}
        counts["total"] = sum(p.numel() for p in self.parameters())
        return counts
