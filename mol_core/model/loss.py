"""The joint loss of eq. 9: CE + lambda_f * flow MSE + lambda_m * normalised landmark L1."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..face68 import LEFT_EYE_OUTER, RIGHT_EYE_OUTER


def landmark_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Eq. 8: mean over frames and points of (|dx| + |dy|) / inter-ocular distance of the
    target (outer eye corners 36, 45). pred, target [...,68,2]."""
    iod = (target[..., RIGHT_EYE_OUTER, :] - target[..., LEFT_EYE_OUTER, :]).norm(dim=-1).clamp_min(1e-6)
    return ((pred - target).abs().sum(-1) / iod[..., None]).mean()


class MOLLoss(torch.nn.Module):
    """``forward(outputs, batch)`` -> (total loss, {"ce", "flow", "landmark"} as floats).

    ``batch`` holds ``label`` [B], ``flow`` [B,T-1,2,128,128], ``landmarks`` [B,T-1,68,2];
    terms of heads absent from ``outputs`` are skipped. Paper weights: 0.1 and 68.
    """

    def __init__(self, lambda_flow: float = 0.1, lambda_landmark: float = 68.0):
        super().__init__()
        self.lambda_flow, self.lambda_landmark = lambda_flow, lambda_landmark

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        terms = {}
        total = torch.zeros((), device=batch["label"].device)
        if "logits" in outputs:
            terms["ce"] = F.cross_entropy(outputs["logits"].float(), batch["label"])
            total = total + terms["ce"]
        if "flow" in outputs:
            terms["flow"] = F.mse_loss(outputs["flow"].float(), batch["flow"])
            total = total + self.lambda_flow * terms["flow"]
        if "landmarks" in outputs:
            terms["landmark"] = landmark_loss(outputs["landmarks"].float(), batch["landmarks"])
            total = total + self.lambda_landmark * terms["landmark"]
        return total, {k: float(v.detach()) for k, v in terms.items()}
