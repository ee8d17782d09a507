"""The joint loss of eq. 9: CE + lambda_f * flow loss + lambda_m * normalised landmark L1."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..face68 import interocular_distance

FLOW_LOSSES = ("mse", "epe")
LOSS_BALANCES = ("paper", "authors", "authors_readme")
# The authors' code's landmark weight: its default, and the one its README's training command gives.
AUTHORS_LANDMARK_WEIGHT = {"authors": 0.5, "authors_readme": 0.1}


def landmark_loss(pred: Tensor, target: Tensor, normaliser: str = "eye_centres") -> Tensor:
    """Eq. 8: mean over frames and points of (|dx| + |dy|) / inter-ocular distance of the
    target (eye centres as in the authors' code, or ``"outer_corners"``). pred, target [...,68,2]."""
    iod = interocular_distance(target, normaliser).clamp_min(1e-6)
    return ((pred - target).abs().sum(-1) / iod[..., None]).mean()


def flow_loss(pred: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    """``"mse"``: the paper's mean squared error over every flow component and pixel;
    ``"epe"``: the mean end-point error (FlowNet's training loss), pred, target [...,2,H,W]."""
    if kind == "mse":
        return F.mse_loss(pred, target)
    return (pred - target).pow(2).sum(-3).add(1e-12).sqrt().mean()


def flow_pyramid_loss(levels: list[Tensor], target: Tensor, kind: str = "mse") -> Tensor:
    """FlowNet's multi-scale loss: each level's estimate [...,2,h,w] against the target
    [...,2,H,W] averaged over h x w blocks (pixels unchanged), one :func:`flow_loss` per
    level, averaged over the levels."""
    flat = target.flatten(0, -4)
    terms = []
    for level in levels:
        h, w = level.shape[-2:]
        terms.append(flow_loss(level.float(), F.adaptive_avg_pool2d(flat, (h, w)).view(*target.shape[:-2], h, w), kind))
    return torch.stack(terms).mean()


class MOLLoss(torch.nn.Module):
    """``forward(outputs, batch)`` -> (total loss, {"ce", "flow", "landmark"} as floats).

    ``batch`` holds ``label`` [B], ``flow`` [B,T-1,2,128,128], ``landmarks`` [B,T-1,68,2];
    terms of heads absent from ``outputs`` are skipped. Paper weights: 0.1 and 68
    (:meth:`for_balance` gives the authors' code's balance). With ``flow_multiscale``, the
    model's ``flow_levels`` (all but the finest, which is the output) add
    :func:`flow_pyramid_loss` to the flow term (logged as ``flow_levels``).
    """

    def __init__(
        self,
        lambda_flow: float = 0.1,
        lambda_landmark: float = 68.0,
        landmark_normaliser: str = "eye_centres",
        flow_kind: str = "mse",
        flow_multiscale: bool = False,
    ):
        super().__init__()
        if flow_kind not in FLOW_LOSSES:
            raise ConfigError(f"flow loss must be one of {FLOW_LOSSES}, got {flow_kind!r}")
        self.lambda_flow, self.lambda_landmark = lambda_flow, lambda_landmark
        self.landmark_normaliser, self.flow_kind, self.flow_multiscale = landmark_normaliser, flow_kind, flow_multiscale

    @classmethod
    def for_balance(
        cls,
        balance: str,
        frames: int,
        lambda_flow: float = 0.1,
        lambda_landmark: float = 68.0,
        landmark_normaliser: str = "eye_centres",
        flow_kind: str = "mse",
        flow_multiscale: bool = False,
    ) -> MOLLoss:
        """``"paper"``: the given weights. ``"authors"``: the authors' code, which weights a
        flow MSE divided once more by t-1 by 10, and a landmark L1 summed over the t-1
        frames by 0.5, both normalised by the eye-centre distance: per our terms (means
        over frames) lambda_f = 10/(t-1) (1.43 at t=8, 14x the paper's 0.1) and
        lambda_m = 0.5 (t-1) (3.5 at t=8, 19x below the paper's 68). ``"authors_readme"``: the
        same with the landmark weight of the authors' README command (``--ldm_weight 0.1``):
        lambda_m = 0.1 (t-1) (0.7 at t=8)."""
        if balance not in LOSS_BALANCES:
            raise ConfigError(f"loss balance must be one of {LOSS_BALANCES}, got {balance!r}")
        if balance in AUTHORS_LANDMARK_WEIGHT:
            return cls(10.0 / (frames - 1), AUTHORS_LANDMARK_WEIGHT[balance] * (frames - 1), "eye_centres", "mse", flow_multiscale)
        return cls(lambda_flow, lambda_landmark, landmark_normaliser, flow_kind, flow_multiscale)

    def forward(self, outputs: dict, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        terms = {}
        total = torch.zeros((), device=batch["label"].device)
        if "logits" in outputs:
            terms["ce"] = F.cross_entropy(outputs["logits"].float(), batch["label"])
            total = total + terms["ce"]
        if "flow" in outputs:
            terms["flow"] = flow_loss(outputs["flow"].float(), batch["flow"], self.flow_kind)
            total = total + self.lambda_flow * terms["flow"]
            if self.flow_multiscale and "flow_levels" in outputs:
                terms["flow_levels"] = flow_pyramid_loss(outputs["flow_levels"][:-1], batch["flow"], self.flow_kind)
                total = total + self.lambda_flow * terms["flow_levels"]
        if "landmarks" in outputs:
            terms["landmark"] = landmark_loss(outputs["landmarks"].float(), batch["landmarks"], self.landmark_normaliser)
            total = total + self.lambda_landmark * terms["landmark"]
        return total, {k: v.detach() for k, v in terms.items()}  # on the device: read them when logging (no host sync a step)
