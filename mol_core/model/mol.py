"""MOL: rich features per frame, F5C per frame, and the MER, flow and landmark heads."""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..util.crop import CROP
from .ccc import CCC_GRAPHS
from .conv_stack import ConvStack
from .f5c import F5C, GLOBAL_BLOCKS
from .heads import FlowHead, FlowHeadOptions, LandmarkHead, MERHead

INPUT_SIZE = CROP
FEATURE_SIZE = 16

# MER input fusion (paper Table 12): how the frame features become the sequence the 3D CNN
# reads. "concat" (the paper's choice) stacks F_k and F_k+1 on channels.
FUSIONS = {
    "concat": "F_k (+) F_k+1 on channels, k = 0..t-2",
    "add": "F_k + F_k+1, k = 0..t-2",
    "subtract": "F_k - F_k+1, k = 0..t-2",
    "first": "F_0..F_t-2",
    "last": "F_1..F_t-1",
    "all": "F_0..F_t-1",
    "interleave": "F_0, F_1, F_1, F_2, ..., F_t-1 along time (the authors' code: the frames of each pair in turn, 2(t-1) steps)",
}
PAIR_WEIGHTS = ("shared", "separate")


def fuse(first: Tensor, second: Tensor, fusion: str) -> Tensor:
    """Features of the first and second frame of each pair, [B,T-1,C,H,W] each, -> the MER
    input [B,C',T',H,W] (channels first, as Conv3d reads it)."""
    sequence = {
        "concat": lambda: torch.cat([first, second], dim=2),
        "add": lambda: first + second,
        "subtract": lambda: first - second,
        "first": lambda: first,
        "last": lambda: second,
        "all": lambda: torch.cat([first, second[:, -1:]], dim=1),
        "interleave": lambda: torch.stack([first, second], dim=2).flatten(1, 2),
    }[fusion]()
    return sequence.transpose(1, 2)


class MOL(nn.Module):
    """Joint MER, optical flow and landmark network.

    ``forward(x)`` with x float [B,1,T,128,128] (grey frames scaled to [0,1]) returns a dict:
    ``logits`` [B,num_classes]; ``flow`` [B,T-1,2,128,128] (pixels, pair k -> k+1);
    ``landmarks`` [B,T-1,68,2] (frames 1..T-1, crop pixels). A disabled head has no key.
    ``forward(x, flow_levels=True)`` adds ``flow_levels``: the flow head's estimate at every
    decoder level, coarsest first, each [B,T-1,2,h,w] in pixels (for the multi-scale loss).
    ``forward(x, flow_pairs=idx)`` (a LongTensor of k pair indices, the same for every clip)
    estimates the flow of those pairs only: ``flow`` [B,k,2,128,128] (training's ``flow_pairs``).

    Each frame's rich features are computed once and the T-1 pairs are batched through the
    heads (the authors' code loops over pairs and runs the conv stack twice per inner frame).

    Options (the ablations of Tables 8-13):

    - ``mer_head``, ``flow_head``, ``landmark_head``: the three tasks (Table 8: w/o OFE,
      w/o FLD, w/o OFE&FLD; no MER head for flow/landmark-only training);
    - ``f5c_blocks``: F5C blocks per frame (Table 10; 0 = w/o F5C, Table 9);
    - ``fcc``: ``fcc`` | ``fcc_v`` | ``fcc_h`` | ``transformer`` | ``none`` (Tables 9, 11);
    - ``ccc``: ``channel`` (paper) | ``spatial`` (authors' code) | ``none``; ``knn`` (k);
    - ``pair_weights``: ``shared`` (paper: "the same F5C") or ``separate`` (the authors'
      code: one F5C for the first and one for the second frame of a pair);
    - ``fusion``: the MER input of Table 12 (``FUSIONS``): ``concat`` is the paper's pair
      feature (F_k and F_k+1 concatenated on channels, t-1 steps); ``interleave`` is how the
      authors' code lays the same features out (the two frames of a pair one after the other
      along time, 2(t-1) steps); ``frames``: any t >= 2 (t=2 is the onset+apex input of
      Table 13);
    - ``zero_init``: every F5C branch starts as the identity (see :class:`F5C`);
    - ``flow_width`` (channel multiplier of the flow head; 1.0 = the authors' 39.7M),
      ``flow_batch_norm``, ``flow_max_displacement``, ``flow_stride`` (correlation),
      ``flow_skips``, ``flow_target_scale``, ``flow_resolution`` and ``flow_joint_stem`` (see
      :class:`FlowHead`), ``dropout``;
    - ``landmark_offset_scale``: pixels per unit of the landmark head's output (its offsets
      from the mean shape; smaller: smaller steps of the points per optimiser step).
    """

    def __init__(
        self,
        num_classes: int,
        frames: int = 8,
        *,
        mer_head: bool = True,
        flow_head: bool = True,
        landmark_head: bool = True,
        f5c_blocks: int = 1,
        fcc: str = "fcc",
        ccc: str = "channel",
        knn: int = 4,
        pair_weights: str = "shared",
        fusion: str = "concat",
        flow_width: float = 1.0,
        flow_batch_norm: bool = True,
        flow_max_displacement: int = 20,
        flow_stride: int = 2,
        flow_skips: str = "first",
        flow_target_scale: float = 1.0,
        flow_resolution: str = "full",
        flow_joint_stem: bool = False,
        zero_init: bool = True,
        dropout: float = 0.5,
        landmark_offset_scale: float = 16.0,
    ):
        super().__init__()
        if frames < 2:
            raise ConfigError(f"MOL needs at least 2 frames, got frames={frames}")
        for name, value, allowed in (
            ("fusion", fusion, tuple(FUSIONS)),
            ("pair_weights", pair_weights, PAIR_WEIGHTS),
            ("fcc", fcc, GLOBAL_BLOCKS),
            ("ccc", ccc, CCC_GRAPHS + ("none",)),
        ):
            if value not in allowed:
                raise ConfigError(f"unknown {name} {value!r}; one of {', '.join(allowed)}")
        if not (mer_head or flow_head or landmark_head):
            raise ConfigError("MOL needs at least one of mer_head, flow_head, landmark_head")
        self.num_classes, self.frames, self.fusion = num_classes, frames, fusion
        self.features = ConvStack()
        c = ConvStack.out_channels

        def f5c_stack() -> nn.Sequential:
            return nn.Sequential(*[F5C(c, FEATURE_SIZE, FEATURE_SIZE, knn, fcc=fcc, ccc=ccc, zero_init=zero_init) for _ in range(f5c_blocks)])

        self.f5c = f5c_stack()
        self.f5c_second = f5c_stack() if pair_weights == "separate" else None
        self.mer = None
        if mer_head:
            mer_channels = 2 * c if fusion == "concat" else c
            mer_steps = {"all": frames, "interleave": 2 * (frames - 1)}.get(fusion, frames - 1)
            self.mer = MERHead(mer_channels, mer_steps, num_classes, FEATURE_SIZE, dropout)
        self.flow = (
            FlowHead(
                2 * c,
                FlowHeadOptions(
                    width=flow_width,
                    batch_norm=flow_batch_norm,
                    max_displacement=flow_max_displacement,
                    stride=flow_stride,
                    skips=flow_skips,
                    target_scale=flow_target_scale,
                    resolution=flow_resolution,
                    joint_stem=flow_joint_stem,
                ),
            )
            if flow_head
            else None
        )
        self.landmarks = LandmarkHead(c, FEATURE_SIZE, offset_scale=landmark_offset_scale) if landmark_head else None

    def check_input(self, x: Tensor) -> None:
        expected = (self.frames, INPUT_SIZE, INPUT_SIZE)
        if x.dim() != 5 or x.shape[1] != 1 or tuple(x.shape[2:]) != expected:
            raise ValueError(f"MOL expects input [B,1,{self.frames},{INPUT_SIZE},{INPUT_SIZE}], got {list(x.shape)}")

    def pair_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """F5C features of the first and the second frame of every pair, [B,T-1,C,16,16] each."""
        b, _, t, h, w = x.shape
        rich = self.features(x.transpose(1, 2).reshape(b * t, 1, h, w))
        rich = rich.view(b, t, *rich.shape[1:])
        if self.f5c_second is None:
            feats = self.f5c(rich.flatten(0, 1)).view_as(rich)
            return feats[:, :-1], feats[:, 1:]
        first = self.f5c(rich[:, :-1].flatten(0, 1)).view(b, t - 1, *rich.shape[2:])
        second = self.f5c_second(rich[:, 1:].flatten(0, 1)).view(b, t - 1, *rich.shape[2:])
        return first, second

    def forward(self, x: Tensor, flow_levels: bool = False, flow_pairs: Tensor | None = None) -> dict[str, Tensor]:
        self.check_input(x)
        b, _, t, h, w = x.shape
        first, second = self.pair_features(x)
        out = {}
        if self.mer is not None:
            out["logits"] = self.mer(fuse(first, second, self.fusion))
        if self.flow is not None:
            images, features = x[:, 0], torch.cat([first, second], dim=2)  # [B,T,128,128], [B,T-1,2C,16,16]
            pairs = torch.arange(t - 1, device=x.device) if flow_pairs is None else flow_pairs.to(x.device)
            k = len(pairs)
            estimated = self.flow(
                images[:, pairs].reshape(-1, 1, h, w),
                images[:, pairs + 1].reshape(-1, 1, h, w),
                features[:, pairs].flatten(0, 1),
                levels=flow_levels,
            )
            flow, levels = estimated if isinstance(estimated, tuple) else (estimated, [])
            out["flow"] = flow.view(b, k, 2, h, w)
            if flow_levels:
                out["flow_levels"] = [level.view(b, k, *level.shape[1:]) for level in levels]
        if self.landmarks is not None:
            out["landmarks"] = self.landmarks(second.flatten(0, 1)).view(b, t - 1, 68, 2)
        return out

    def trunk_parameters(self) -> list[nn.Parameter]:
        """The parameters every head learns through: the conv stack and the F5C blocks."""
        shared = [self.features, self.f5c] + ([self.f5c_second] if self.f5c_second is not None else [])
        return [p for module in shared for p in module.parameters() if p.requires_grad]

    def parts(self) -> dict[str, nn.Module]:
        """The model's blocks by name (absent parts left out)."""
        parts = {
            "conv_stack": self.features,
            "f5c": self.f5c,
            "f5c_second": self.f5c_second,
            "mer_head": self.mer,
            "flow_head": self.flow,
            "landmark_head": self.landmarks,
        }
        return {k: m for k, m in parts.items() if m is not None}

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per part, and ``total``."""
        counts = {k: sum(p.numel() for p in m.parameters()) for k, m in self.parts().items()}
        counts["total"] = sum(p.numel() for p in self.parameters())
        return counts


MODEL_OPTIONS = tuple(
    name for name, parameter in inspect.signature(MOL.__init__).parameters.items() if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)


def check_options(options: dict) -> dict:
    """``options`` (keyword options of :class:`MOL`, e.g. from a config or a checkpoint);
    ConfigError naming the unknown ones."""
    if not isinstance(options, dict):
        raise ConfigError(f"model options must be a mapping of names to values, got {options!r}")
    unknown = sorted(set(options) - set(MODEL_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown model options {unknown}; known: {', '.join(MODEL_OPTIONS)}")
    return options
