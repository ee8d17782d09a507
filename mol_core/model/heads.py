"""The three task heads: MER (3D CNN), optical flow (FlowNetC-style), landmarks."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..util.crop import CROP
from .correlation import correlation

FLOW_SKIPS = ("first", "both")
FLOW_RESOLUTIONS = ("full", "quarter")


class MERHead(nn.Module):
    """Fused features [B,C',T',16,16] -> logits [B,classes]: 3D conv (32 channels, kernel
    (min(5,T'),2,2), stride (1,2,2), the authors' kernel), 3D max-pool 2, dropout, FC 256,
    ReLU, dropout, FC.

    The temporal pooling keeps a last, incomplete window (``ceil_mode``): at T'=7 the
    convolution gives 3 steps, and flooring them to one pooled step would drop the window
    over the last pairs, so the last frame would never reach the logits."""

    def __init__(self, in_channels: int, pairs: int, num_classes: int, size: int = 16, dropout: float = 0.5):
        super().__init__()
        kt = min(5, pairs)
        self.conv = nn.Conv3d(in_channels, 32, kernel_size=(kt, 2, 2), stride=(1, 2, 2))
        t_out = pairs - kt + 1
        pool_t = min(2, t_out)
        self.pool = nn.MaxPool3d(kernel_size=(pool_t, 2, 2), ceil_mode=True)
        flat = 32 * math.ceil(t_out / pool_t) * (size // 4) * (size // 4)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(flat, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(256, num_classes),
        )

    def forward(self, pair_features: Tensor) -> Tensor:
        return self.classifier(self.pool(self.conv(pair_features)))


class LandmarkHead(nn.Module):
    """Features of frame k+1 [N,C,16,16] -> landmarks [N,68,2] in crop pixels: conv 3x3 to
    32 channels, ReLU, FC 512, ReLU, FC 136. The FC output is an offset in units of
    ``offset_scale`` pixels from ``mean_shape`` (a buffer the trainer sets from the training
    landmarks), so training starts from the average face at a sensible output scale."""

    mean_shape: Tensor  # buffer [points, 2]

    def __init__(self, in_channels: int = 128, size: int = 16, points: int = 68, offset_scale: float = 16.0):
        super().__init__()
        self.points, self.offset_scale = points, offset_scale
        self.conv = nn.Conv2d(in_channels, 32, kernel_size=3)
        hidden, out = nn.Linear(32 * (size - 2) ** 2, 512), nn.Linear(512, points * 2)
        self.fc = nn.Sequential(nn.Flatten(), hidden, nn.ReLU(inplace=True), out)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.register_buffer("mean_shape", torch.full((points, 2), (CROP - 1) / 2))  # the crop's centre until the trainer sets it

    def forward(self, features: Tensor) -> Tensor:
        offsets = self.fc(F.relu(self.conv(features))).view(-1, self.points, 2)
        return self.mean_shape + self.offset_scale * offsets


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, batch_norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.1, inplace=True))
    return nn.Sequential(*layers)


def _deconv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.LeakyReLU(0.1, inplace=True))


class MotionStem(nn.Module):
    """A FlowNet-S-style stem for sub-pixel motion: both frames and their difference (times
    ``DIFFERENCE_GAIN``) stacked on channels, [N,3,H,W] -> features at 1/2, 1/4 and 1/8
    ([N,c2,H/2,W/2], [N,c4,H/4,W/4], [N,c8,H/8,W/8]). The siamese FlowNetC towers see each
    frame alone until the correlation at 1/8, where a micro-expression's motion (a fraction
    of a pixel) is below the correlation's step; here every layer sees both frames."""

    DIFFERENCE_GAIN = 10.0

    def __init__(self, channels: tuple[int, int, int], batch_norm: bool = True):
        super().__init__()
        c2, c4, c8 = channels
        self.to_half = _conv(3, c2, 3, 2, batch_norm)
        self.to_quarter = nn.Sequential(_conv(c2, c4, 3, 2, batch_norm), _conv(c4, c4, 3, 1, batch_norm))
        self.to_eighth = nn.Sequential(_conv(c4, c8, 3, 2, batch_norm), _conv(c8, c8, 3, 1, batch_norm))

    def forward(self, first: Tensor, second: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        half = self.to_half(torch.cat([first, second, self.DIFFERENCE_GAIN * (second - first)], dim=1))
        quarter = self.to_quarter(half)
        return half, quarter, self.to_eighth(quarter)


@dataclass(frozen=True)
class FlowHeadOptions:
    """The flow head's options, grouped (config.yaml: ``model.flow_<name>``; see
    :class:`FlowHead` for what each does). Validated on creation."""

    width: float = 1.0
    batch_norm: bool = True
    max_displacement: int = 20
    stride: int = 2
    skips: str = "first"
    target_scale: float = 1.0
    resolution: str = "full"
    joint_stem: bool = False

    def __post_init__(self):
        if self.skips not in FLOW_SKIPS:
            raise ConfigError(f"flow skips must be one of {FLOW_SKIPS}, got {self.skips!r}")
        if self.resolution not in FLOW_RESOLUTIONS:
            raise ConfigError(f"flow resolution must be one of {FLOW_RESOLUTIONS}, got {self.resolution!r}")
        if self.target_scale <= 0:
            raise ConfigError(f"flow target_scale must be positive, got {self.target_scale}")
        if self.width <= 0:
            raise ConfigError(f"flow width must be positive, got {self.width}")

    @classmethod
    def from_model_options(cls, options: dict) -> FlowHeadOptions:
        """From a model section's ``flow_<name>`` keys (others ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{key[len("flow_") :]: value for key, value in options.items() if key.startswith("flow_") and key[len("flow_") :] in names})


class FlowHead(nn.Module):
    """FlowNetC-style encoder-decoder: (I_k, I_k+1) [N,1,128,128] and (F_k, F_k+1)
    [N,C,16,16] -> flow [N,2,128,128] (pixels, x then y).

    Encoder: a shared image tower to 1/8 resolution (kernels 6, 4, 2 as in the authors' code), the correlation of the two towers
    (max displacement 20, stride 2: 441 channels), a redirect of the first tower and both
    frames' F5C features, then convolutions down to 1/64. Decoder: deconvolutions with
    skip connections and a flow estimate refined at each scale up to full resolution.
    ``width`` scales every channel count (1.0 = the authors' sizes, about 40M parameters).

    ``skips``: what the decoder's fine levels see of the frames: ``"first"`` (FlowNetC and the
    authors: the first frame's 1/2 and 1/4 features and the first image) or ``"both"`` (both
    frames' features and images, so the finest levels can compare the frames where
    sub-pixel motion is visible; at 1/8 the correlation cannot resolve it).
    ``target_scale``: the network's raw output is the flow times this factor (FlowNet scales
    its targets the other way, by 1/20, for motions of tens of pixels; micro-expression
    motion is a fraction of a pixel), and ``forward`` returns raw / target_scale in pixels.
    ``resolution``: where the decoder stops refining: ``"full"`` (the authors' code: estimates
    up to 128x128) or ``"quarter"`` (FlowNet: the last estimate at 1/4, 32x32, upsampled
    bilinearly; the two finest levels, most of the head's time on a CPU, are not built).
    ``joint_stem``: add a :class:`MotionStem` whose 1/8 features join the 1/8 encoder input
    and whose 1/4 and 1/2 features join the decoder's skips there.
    ``levels``: ``forward`` also returns every level's estimate, coarsest first, [N,2,h,w]
    in pixels of the input (for FlowNet's multi-scale loss, :func:`~mol_core.model.loss.flow_pyramid_loss`).
    """

    def __init__(self, feature_channels: int = 256, options: FlowHeadOptions | None = None):
        super().__init__()
        options = options or FlowHeadOptions()
        self.options = options
        width, batch_norm, skips = options.width, options.batch_norm, options.skips
        max_displacement, stride, joint_stem = options.max_displacement, options.stride, options.joint_stem
        target_scale, resolution = options.target_scale, options.resolution
        self.both, self.target_scale = skips == "both", float(target_scale)
        frames = 2 if self.both else 1

        def ch(c: int) -> int:  # channels scaled by width, at least 4
            return max(4, int(round(c * width)))

        self.max_displacement, self.stride = max_displacement, stride
        corr_channels = (2 * (max_displacement // stride) + 1) ** 2
        self.conv1 = _conv(1, ch(64), 6, 2, batch_norm)
        self.conv2 = _conv(ch(64), ch(128), 4, 2, batch_norm)
        self.conv3 = _conv(ch(128), ch(256), 2, 2, batch_norm)
        self.redirect = _conv(ch(256), ch(32), 1, 1, batch_norm)
        stem = (ch(128), ch(256), ch(512)) if joint_stem else (0, 0, 0)
        self.stem = MotionStem(stem, batch_norm) if joint_stem else None
        self.conv3_1 = _conv(ch(32) + corr_channels + feature_channels + stem[2], ch(256), 3, 1, batch_norm)
        self.conv4 = _conv(ch(256), ch(512), 3, 2, batch_norm)
        self.conv4_1 = _conv(ch(512), ch(512), 3, 1, batch_norm)
        self.conv5 = _conv(ch(512), ch(512), 3, 2, batch_norm)
        self.conv5_1 = _conv(ch(512), ch(512), 3, 1, batch_norm)
        self.conv6 = _conv(ch(512), ch(1024), 3, 2, batch_norm)
        self.conv6_1 = _conv(ch(1024), ch(1024), 3, 1, batch_norm)
        # conv5, conv4, conv3, conv2 (+ stem 1/4), conv1 (+ stem 1/2), image
        skip_channels = [ch(512), ch(512), ch(256), frames * ch(128) + stem[1], frames * ch(64) + stem[0], frames]
        ups = [ch(512), ch(256), ch(128), ch(128), ch(64), ch(32)]
        self.refinements = len(ups) if resolution == "full" else len(ups) - 2  # quarter: no 1/2 and full-size levels
        skip_channels, ups = skip_channels[: self.refinements], ups[: self.refinements]
        self.deconvs, self.predicts, self.upsample_flows = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        cin = ch(1024)
        self.predicts.append(nn.Conv2d(cin, 2, 3, 1, 1, bias=False))
        for skip, up in zip(skip_channels, ups, strict=True):
            self.deconvs.append(_deconv(cin, up))
            self.upsample_flows.append(nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False))
            cin = skip + up + 2
            self.predicts.append(nn.Conv2d(cin, 2, 3, 1, 1, bias=False))

    def forward(self, first: Tensor, second: Tensor, features: Tensor, levels: bool = False) -> Tensor | tuple[Tensor, list[Tensor]]:
        n, size = first.shape[0], first.shape[-2:]
        c1 = self.conv1(torch.cat([first, second]))
        c2 = self.conv2(c1)
        c3 = self.conv3(c2)
        c3a, c3b = c3[:n], c3[n:]
        corr = F.leaky_relu(correlation(c3a, c3b, self.max_displacement, self.stride), 0.1)
        stem: tuple[Tensor, ...] = self.stem(first, second) if self.stem is not None else ()
        x3 = self.conv3_1(torch.cat([self.redirect(c3a), corr, features, *stem[2:]], dim=1))
        x4 = self.conv4_1(self.conv4(x3))
        x5 = self.conv5_1(self.conv5(x4))
        x6 = self.conv6_1(self.conv6(x5))
        x, flow = x6, self.predicts[0](x6)
        estimates = [flow]
        skips = [x5, x4, x3, *self._fine_skips(n, c2, c1, first, second, stem)]
        for skip, deconv, up_flow, predict in zip(skips, self.deconvs, self.upsample_flows, self.predicts[1:], strict=True):
            x = torch.cat([skip, deconv(x), up_flow(flow)], dim=1)
            flow = predict(x)
            estimates.append(flow)
        if flow.shape[-2:] != size:
            flow = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
        if not levels:
            return flow / self.target_scale if self.target_scale != 1.0 else flow
        if self.target_scale != 1.0:
            flow, estimates = flow / self.target_scale, [e / self.target_scale for e in estimates]
        return flow, estimates

    def _fine_skips(self, n: int, c2: Tensor, c1: Tensor, first: Tensor, second: Tensor, stem: tuple[Tensor, ...]) -> list[Tensor]:
        """The skips of the levels the decoder refines to beyond 1/8 (1/4, 1/2, full size;
        only 1/4 at ``quarter``): the first frame's conv2, conv1 and image, or both frames'
        (``skips="both"``; the towers stack [first; second] on the batch axis), with the joint
        stem's 1/4 and 1/2 features."""
        sources = [(c2[:n], c2[n:], stem[1:2]), (c1[:n], c1[n:], stem[0:1]), (first, second, ())]
        out = []
        for a, b, extra in sources[: self.refinements - 3]:
            parts = [a, b, *extra] if self.both else [a, *extra]
            out.append(torch.cat(parts, 1) if len(parts) > 1 else a)
        return out
