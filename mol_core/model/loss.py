"""The joint loss of eq. 9: CE + lambda_f * flow loss + lambda_m * normalised landmark L1,
and the ways its terms can be balanced beside the paper's fixed weights.

Balances (``MOLLoss.for_balance``): ``paper`` (the weights as given), ``authors`` and
``authors_readme`` (the authors' code's weights), and three of ours, each starting from the
given weights: ``uncertainty`` (Kendall et al. 2018: a learned log-variance s per term,
``exp(-s) * term + s``), ``gradnorm`` (Chen et al. 2018: a learned multiplier per term, moved
by :class:`mol_core.train.balancing.GradNorm` so that the terms' gradients on the shared
trunk train at a common rate) and ``share`` (fixed multipliers set on the first training
batch so that each auxiliary term starts at ``aux_share`` of the cross-entropy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..face68 import interocular_distance

FLOW_LOSSES = ("mse", "epe")
LOSS_BALANCES = ("paper", "authors", "authors_readme", "uncertainty", "gradnorm", "share")
LEARNED_BALANCES = ("uncertainty", "gradnorm")  # their parameters train with the model
TERMS = ("ce", "flow", "landmark")  # the loss's terms, in the order of the balances' parameters
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
    """``forward(outputs, batch)`` -> (total loss, {"ce", "flow", "landmark"} detached).

    ``batch`` holds ``label`` [B], ``flow`` [B,T-1,2,128,128], ``landmarks`` [B,T-1,68,2];
    terms of heads absent from ``outputs`` are skipped. Paper weights: 0.1 and 68
    (:meth:`for_balance` gives the authors' code's balance and ours). With
    ``flow_multiscale``, the model's ``flow_levels`` (all but the finest, which is the output)
    add :func:`flow_pyramid_loss` to the flow term (logged as ``flow_levels``).
    ``lambda_flow`` and ``lambda_landmark`` stay the fixed weights a pre-training's validation
    loss uses; a balance multiplies them (:meth:`multipliers`).
    """

    share_scale: Tensor  # a buffer: share's multipliers [len(TERMS)] (ones for the other balances)

    def __init__(
        self,
        lambda_flow: float = 0.1,
        lambda_landmark: float = 68.0,
        landmark_normaliser: str = "eye_centres",
        flow_kind: str = "mse",
        flow_multiscale: bool = False,
        balance: str = "paper",
        aux_share: float = 0.25,
    ):
        super().__init__()
        if flow_kind not in FLOW_LOSSES:
            raise ConfigError(f"flow loss must be one of {FLOW_LOSSES}, got {flow_kind!r}")
        if balance not in LOSS_BALANCES:
            raise ConfigError(f"loss balance must be one of {LOSS_BALANCES}, got {balance!r}")
        if not aux_share > 0:
            raise ConfigError(f"aux_share must be positive, got {aux_share}")
        self.lambda_flow, self.lambda_landmark = lambda_flow, lambda_landmark
        self.landmark_normaliser, self.flow_kind, self.flow_multiscale = landmark_normaliser, flow_kind, flow_multiscale
        self.balance, self.aux_share = balance, aux_share
        # uncertainty: log-variances s (0: the given weights); gradnorm: multipliers (1: the given weights)
        self.log_vars = torch.nn.Parameter(torch.zeros(len(TERMS))) if balance == "uncertainty" else None
        self.task_weights = torch.nn.Parameter(torch.ones(len(TERMS))) if balance == "gradnorm" else None
        # share: multipliers set by calibrate() on the first training batch (NaN until then)
        self.register_buffer("share_scale", torch.full((len(TERMS),), float("nan")) if balance == "share" else torch.ones(len(TERMS)))
        # whether the multipliers are set: a Python flag, so that a training step never reads the
        # device to ask (set again from the buffer when a resume point is loaded)
        self._calibrated = balance != "share"
        self.register_load_state_dict_post_hook(lambda module, keys: module._recheck_calibration())

    def _recheck_calibration(self) -> None:
        self._calibrated = not bool(torch.isnan(self.share_scale).any())

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
        aux_share: float = 0.25,
    ) -> MOLLoss:
        """``"paper"``: the given weights. ``"authors"``: the authors' code, which weights a
        flow MSE divided once more by t-1 by 10, and a landmark L1 summed over the t-1
        frames by 0.5, both normalised by the eye-centre distance: per our terms (means
        over frames) lambda_f = 10/(t-1) (1.43 at t=8, 14x the paper's 0.1) and
        lambda_m = 0.5 (t-1) (3.5 at t=8, 19x below the paper's 68). ``"authors_readme"``: the
        same with the landmark weight of the authors' README command (``--ldm_weight 0.1``):
        lambda_m = 0.1 (t-1) (0.7 at t=8). ``"uncertainty"``, ``"gradnorm"``, ``"share"``: the
        given weights, balanced (see the module's docstring)."""
        if balance in AUTHORS_LANDMARK_WEIGHT:
            return cls(10.0 / (frames - 1), AUTHORS_LANDMARK_WEIGHT[balance] * (frames - 1), "eye_centres", "mse", flow_multiscale)
        return cls(lambda_flow, lambda_landmark, landmark_normaliser, flow_kind, flow_multiscale, balance, aux_share)

    def terms(self, outputs: dict, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The unweighted terms of the heads present (``flow_levels`` with the multi-scale loss)."""
        terms = {}
        if "logits" in outputs:
            terms["ce"] = F.cross_entropy(outputs["logits"].float(), batch["label"])
        if "flow" in outputs:
            terms["flow"] = flow_loss(outputs["flow"].float(), batch["flow"], self.flow_kind)
            if self.flow_multiscale and "flow_levels" in outputs:
                terms["flow_levels"] = flow_pyramid_loss(outputs["flow_levels"][:-1], batch["flow"], self.flow_kind)
        if "landmarks" in outputs:
            terms["landmark"] = landmark_loss(outputs["landmarks"].float(), batch["landmarks"], self.landmark_normaliser)
        return terms

    def weighted(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each term of :data:`TERMS` present times its fixed weight (1 for the CE; the flow
        term with its levels)."""
        out = {}
        if "ce" in terms:
            out["ce"] = terms["ce"]
        if "flow" in terms:
            out["flow"] = self.lambda_flow * terms["flow"]
            if "flow_levels" in terms:
                out["flow"] = out["flow"] + self.lambda_flow * terms["flow_levels"]
        if "landmark" in terms:
            out["landmark"] = self.lambda_landmark * terms["landmark"]
        return out

    def multipliers(self) -> Tensor:
        """What the balance multiplies each weighted term by, [len(TERMS)] (ones for the fixed
        balances; gradnorm's are not differentiated here: GradNorm moves them)."""
        if self.log_vars is not None:
            return torch.exp(-self.log_vars)
        if self.task_weights is not None:
            return self.task_weights.detach()
        return self.share_scale

    def contributions(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each term's part of the total loss (fixed weight times the balance's multiplier;
        ``share`` calibrates on the first terms it sees)."""
        self._calibrate_once(terms)
        scale = self.multipliers()
        return {name: scale[TERMS.index(name)] * value for name, value in self.weighted(terms).items()}

    def total(self, terms: dict[str, Tensor]) -> Tensor:
        """The loss to minimise: the contributions' sum, added in the order of :data:`TERMS`
        (uncertainty: plus each term's s)."""
        contributions = self.contributions(terms)
        total = torch.zeros((), device=next(iter(terms.values())).device)
        for value in contributions.values():
            total = total + value
        if self.log_vars is not None:
            total = total + sum(self.log_vars[TERMS.index(name)] for name in contributions)
        return total

    @torch.no_grad()
    def calibrate(self, terms: dict[str, Tensor]) -> None:
        """``share``: fix each auxiliary term's multiplier so that, on these terms (the first
        training batch's), it is ``aux_share`` of the CE; no-op for the other balances."""
        if self.balance != "share":
            return
        if "ce" not in terms:
            raise ConfigError("loss_balance share weighs the auxiliary terms against the CE: it needs the MER head")
        weighted = self.weighted(terms)
        self.share_scale[TERMS.index("ce")] = 1.0
        for name in ("flow", "landmark"):
            if name in weighted:
                self.share_scale[TERMS.index(name)] = self.aux_share * weighted["ce"] / weighted[name].clamp_min(1e-12)
        self._calibrated = True

    def effective_weights(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each present term's weight as it enters the total: its fixed weight (1 for the CE)
        times the balance's multiplier (``share`` calibrates on the first terms it sees)."""
        self._calibrate_once(terms)
        fixed = {"ce": 1.0, "flow": self.lambda_flow, "landmark": self.lambda_landmark}
        scale = self.multipliers()
        return {name: fixed[name] * scale[TERMS.index(name)] for name in self.weighted(terms)}

    def _calibrate_once(self, terms: dict[str, Tensor]) -> None:
        if not self._calibrated:
            self.calibrate(terms)

    @property
    def calibrated(self) -> bool:
        """Whether the balance's multipliers are set (only ``share`` waits for a first batch)."""
        return self._calibrated

    def forward(self, outputs: dict, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        terms = self.terms(outputs, batch)
        return self.total(terms), {k: v.detach() for k, v in terms.items()}  # on the device: read them when logging (no host sync a step)
