"""What the loss's terms do to the shared trunk: per-term gradient diagnostics for
``log.csv``, and GradNorm (Chen et al. 2018), which moves the ``gradnorm`` balance's
multipliers so that each term's gradient on the trunk grows with how slowly that term
trains. The terms are the contributions of :meth:`mol_core.model.MOLLoss.contributions`
(each term as it enters the total loss)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..model.loss import TERMS, MOLLoss


def term_gradients(contributions: dict[str, Tensor], parameters: list[torch.nn.Parameter]) -> dict[str, Tensor]:
    """Each term's gradient on ``parameters``, flattened into one vector [P] (zeros where a
    parameter does not depend on the term). The graph is kept for the step's backward."""
    out = {}
    for name, value in contributions.items():
        grads = torch.autograd.grad(value, parameters, retain_graph=True, allow_unused=True)
        out[name] = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, parameters, strict=True)])
    return out


def trunk_diagnostics(contributions: dict[str, Tensor], parameters: list[torch.nn.Parameter]) -> dict[str, Tensor]:
    """``grad_<term>``: the L2 norm of each term's gradient on the shared trunk; and
    ``cos_ce_<term>``: the cosine between the CE's gradient and each auxiliary term's (1:
    the auxiliary term pulls the trunk the CE's way, 0: unrelated, -1: against it). 0-d
    tensors on the device, read when a log row is written."""
    grads = term_gradients({k: v.float() for k, v in contributions.items()}, parameters)
    out = {f"grad_{name}": g.norm() for name, g in grads.items()}
    if "ce" in grads:
        for name in ("flow", "landmark"):
            if name in grads:
                out[f"cos_ce_{name}"] = torch.nn.functional.cosine_similarity(grads["ce"], grads[name], dim=0, eps=1e-20)
    return {k: v.detach() for k, v in out.items()}


class GradNorm:
    """GradNorm on the last shared parameter ``shared`` (a trunk weight): after each step's
    terms are computed, the multipliers w of ``criterion`` (``balance: gradnorm``) take one
    Adam step (``lr``) on sum_i |G_i - mean(G) r_i^alpha|, where G_i = |grad of w_i term_i
    on ``shared``| and r_i the term's loss ratio to its first value over the mean ratio;
    then they are renormalised to sum to the number of terms present."""

    def __init__(self, criterion: MOLLoss, shared: torch.nn.Parameter, alpha: float = 1.5, lr: float = 0.025):
        if criterion.task_weights is None:
            raise ValueError("GradNorm moves the multipliers of a loss with balance: gradnorm")
        self.weights, self.shared, self.alpha = criterion.task_weights, shared, alpha
        self.optimizer = torch.optim.Adam([self.weights], lr=lr)
        self.criterion = criterion
        self.initial: Tensor | None = None  # each term's first value

    def step(self, terms: dict[str, Tensor]) -> None:
        """One update of the multipliers from this step's (undetached) terms."""
        weighted = self.criterion.weighted(terms)
        index = [TERMS.index(name) for name in weighted]
        losses = torch.stack([v.float() for v in weighted.values()])
        norms = torch.stack(
            [
                torch.autograd.grad(self.weights[i] * value.float(), self.shared, retain_graph=True, create_graph=True)[0].norm()
                for i, value in zip(index, weighted.values(), strict=True)
            ]
        )
        if self.initial is None or len(self.initial) != len(losses):
            self.initial = losses.detach().clamp_min(1e-12)
        ratio = losses.detach() / self.initial
        target = (norms.mean() * (ratio / ratio.mean()) ** self.alpha).detach()
        (grad,) = torch.autograd.grad((norms - target).abs().sum(), self.weights, retain_graph=True)
        self.optimizer.zero_grad(set_to_none=True)
        self.weights.grad = grad
        self.optimizer.step()
        with torch.no_grad():
            present = self.weights[index].clamp_min(1e-3)
            self.weights[index] = present * len(index) / present.sum()

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "initial": self.initial}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.initial = state["initial"]
