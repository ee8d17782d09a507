"""Balancing the joint loss beside the paper's fixed weights (issue 29, items 1 and 2):
uncertainty weighting, GradNorm, fixed shares of the CE, and the per-term gradient
diagnostics on the shared trunk that every training logs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mol_core.clips.index import build_clip_index
from mol_core.datasets import class_names
from mol_core.errors import ConfigError
from mol_core.model import MOLLoss
from mol_core.model.loss import TERMS
from mol_core.train.balancing import GradNorm, trunk_diagnostics
from mol_core.train.loop import TrainSettings, train_fold

from .conftest import SMALL_PREPARATION, markers_of

TINY_MODEL = {"flow_width": 0.125, "fusion": "subtract"}


def batch_and_outputs(seed: int = 0, b: int = 2, t: int = 4):
    torch.manual_seed(seed)
    target = torch.rand(b, t - 1, 68, 2) * 100
    batch = {"label": torch.tensor([0, 2]), "flow": torch.randn(b, t - 1, 2, 8, 8), "landmarks": target}
    outputs = {"logits": torch.randn(b, 3), "flow": torch.randn(b, t - 1, 2, 8, 8), "landmarks": target + torch.randn(b, t - 1, 68, 2)}
    return batch, outputs


def test_the_paper_balance_is_eq_9_to_the_last_bit():
    batch, outputs = batch_and_outputs()
    total, terms = MOLLoss(0.1, 68.0)(outputs, batch)
    assert torch.equal(total, torch.zeros(()) + terms["ce"] + 0.1 * terms["flow"] + 68.0 * terms["landmark"])


def test_uncertainty_weighting_starts_at_the_given_weights_and_learns_log_variances():
    batch, outputs = batch_and_outputs()
    criterion = MOLLoss.for_balance("uncertainty", 4)
    terms = criterion.terms(outputs, batch)
    paper = MOLLoss(0.1, 68.0).total(terms)
    assert torch.allclose(criterion.total(terms), paper)  # s = 0: exp(-0) x given weights + 0
    with torch.no_grad():
        criterion.log_vars.copy_(torch.tensor([0.5, -1.0, 2.0]))
    total = criterion.total(terms)
    weighted = [terms["ce"], 0.1 * terms["flow"], 68.0 * terms["landmark"]]
    expected = sum(math.exp(-s) * float(w) + s for s, w in zip([0.5, -1.0, 2.0], weighted, strict=True))
    assert float(total.detach()) == pytest.approx(expected, rel=1e-6)
    (grad,) = torch.autograd.grad(total, criterion.log_vars)
    assert torch.allclose(grad, torch.tensor([1 - math.exp(-s) * float(w) for s, w in zip([0.5, -1.0, 2.0], weighted, strict=True)]))
    weights = criterion.effective_weights(terms)
    assert float(weights["landmark"].detach()) == pytest.approx(68.0 * math.exp(-2.0))


def test_share_fixes_each_auxiliary_term_at_its_share_of_the_ce_on_the_first_batch():
    batch, outputs = batch_and_outputs()
    criterion = MOLLoss.for_balance("share", 4, aux_share=0.2)
    first = criterion.terms(outputs, batch)
    criterion.total(first)  # calibrates
    parts = criterion.contributions(first)
    assert float(parts["flow"]) == pytest.approx(0.2 * float(first["ce"])) and float(parts["landmark"]) == pytest.approx(
        0.2 * float(first["ce"])
    )
    scale = criterion.share_scale.clone()
    later_batch, later_outputs = batch_and_outputs(seed=1)
    criterion.total(criterion.terms(later_outputs, later_batch))
    assert torch.equal(criterion.share_scale, scale)  # fixed after the first batch
    resumed = MOLLoss.for_balance("share", 4, aux_share=0.2)
    assert not resumed.calibrated
    resumed.load_state_dict(criterion.state_dict())  # a resume point keeps the first batch's multipliers
    assert resumed.calibrated and torch.equal(resumed.share_scale, scale)
    no_mer = MOLLoss.for_balance("share", 4)
    with pytest.raises(ConfigError, match="needs the MER head"):
        no_mer.total(no_mer.terms({k: v for k, v in outputs.items() if k != "logits"}, batch))
    with pytest.raises(ConfigError, match="aux_share must be positive"):
        MOLLoss(balance="share", aux_share=0.0)


def test_gradnorm_lowers_the_weight_of_the_term_whose_gradient_dominates_the_shared_layer():
    """Two terms on one shared weight W: the flow term's gradient on W is 10x the CE's and
    both train at the same rate, so GradNorm moves weight from flow to CE; the multipliers
    keep summing to the number of terms."""
    shared = torch.nn.Parameter(torch.ones(4, 4))
    criterion = MOLLoss.for_balance("gradnorm", 4, lambda_flow=1.0)
    gradnorm = GradNorm(criterion, shared, alpha=1.5, lr=0.05)
    for _ in range(3):
        terms = {"ce": (shared * 0.1).pow(2).sum(), "flow": (shared * 1.0).pow(2).sum() / 10}
        gradnorm.step(terms)
    w = criterion.task_weights.detach()
    ce, flow = w[TERMS.index("ce")], w[TERMS.index("flow")]
    assert float(ce + flow) == pytest.approx(2.0) and ce > 1.0 > flow
    assert w[TERMS.index("landmark")] == 1.0  # absent terms untouched
    with pytest.raises(ValueError, match="balance: gradnorm"):
        GradNorm(MOLLoss(), shared)


def test_trunk_diagnostics_are_the_terms_gradient_norms_and_their_cosine_to_the_ce():
    p = torch.nn.Parameter(torch.zeros(3))
    a, b = torch.tensor([1.0, 2.0, 2.0]), torch.tensor([0.0, 3.0, 4.0])
    q = torch.nn.Parameter(torch.zeros(2))  # a parameter only the CE uses
    contributions = {"ce": (p * a).sum() + q.sum(), "flow": (p * b).sum(), "landmark": -(p * a).sum()}
    out = trunk_diagnostics(contributions, [p, q])
    assert float(out["grad_ce"]) == pytest.approx(math.sqrt(9 + 2)) and float(out["grad_flow"]) == pytest.approx(5.0)
    assert float(out["cos_ce_flow"]) == pytest.approx(14 / (math.sqrt(11) * 5))
    assert float(out["cos_ce_landmark"]) == pytest.approx(-9 / (math.sqrt(11) * 3))


@pytest.fixture(scope="module")
def clips(small_stores, small_videos):
    return build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)[0]


def train(clips, tmp_path, name, **settings):
    out = tmp_path / name
    run = TrainSettings(steps=4, batch_size=4, eval_every=4, log_every=2, val_subjects=1, **settings)
    train_fold(clips, sorted(clips.subject.unique())[0], out, class_names("synthetic", 5), run, TINY_MODEL, log=lambda m: None)
    return torch.load(out / "model.pt", weights_only=False)["state_dict"], pd.read_csv(out / "log.csv")


def test_every_training_logs_the_terms_trunk_gradients_and_they_change_nothing(clips, tmp_path):
    with_diagnostics, log = train(clips, tmp_path, "on")
    without, quiet = train(clips, tmp_path, "off", diagnostics=False)
    assert all(torch.equal(with_diagnostics[k], without[k]) for k in with_diagnostics)  # the same training, bit for bit
    for column in ("grad_ce", "grad_flow", "grad_landmark", "cos_ce_flow", "cos_ce_landmark"):
        assert log[column].notna().all() and column not in quiet, column
    assert (log.grad_ce > 0).all() and log.cos_ce_flow.between(-1, 1).all()
    assert log.weight_flow.tolist() == pytest.approx([0.1] * 2) and (log.weight_landmark == 68.0).all() and (quiet.weight_ce == 1.0).all()


@pytest.mark.parametrize("balance", ["uncertainty", "gradnorm", "share"])
def test_the_learned_and_shared_balances_train_and_log_their_weights(clips, tmp_path, balance):
    _, log = train(clips, tmp_path, balance, loss_balance=balance, lr=1e-2)
    assert log.loss.notna().all() and {"weight_ce", "weight_flow", "weight_landmark"} <= set(log.columns)
    if balance == "share":  # flow and landmark enter at a quarter of the first batch's CE
        assert log.weight_flow.nunique() == 1 and log.weight_flow.iloc[0] != 0.1
    else:  # the multipliers moved from the given weights
        assert log.weight_flow.iloc[-1] != pytest.approx(0.1, rel=1e-6) or log.weight_landmark.iloc[-1] != pytest.approx(68.0, rel=1e-6)


def test_the_linear_probe_reads_the_class_from_features_that_carry_it():
    from mol_core.train.probe import fit_probe

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    features = rng.normal(size=(60, 8)) * 5 + 100  # large offset and scale: the probe standardises them
    features[:, 0] += labels * 20  # one dimension carries the class
    layer = fit_probe(features, labels, 3)
    with torch.no_grad():
        predicted = layer(torch.from_numpy(features.astype(np.float32))).argmax(1).numpy()
    assert (predicted == labels).mean() == 1.0
    noise = fit_probe(rng.normal(size=(60, 8)), labels, 3)  # features without the class
    held_out = rng.normal(size=(300, 8)).astype(np.float32)
    with torch.no_grad():
        chance = (noise(torch.from_numpy(held_out)).argmax(1).numpy() == np.repeat(np.arange(3), 100)).mean()
    assert chance < 0.5


def test_the_probe_of_a_fold_scores_its_test_videos_beside_the_majority_class(clips):
    from mol_core.model import MOL
    from mol_core.train.probe import probe, trunk_features

    torch.manual_seed(0)
    model = MOL(5, frames=4, **TINY_MODEL)
    test_subject = sorted(clips.subject.unique())[0]
    train, test = clips[clips.subject != test_subject], clips[clips.subject == test_subject]
    from mol_core.clips.data import ClipDataset

    features = trunk_features(model, ClipDataset(test))
    assert features.shape == (len(test), 2 * model.features(torch.zeros(1, 1, 128, 128)).shape[1])
    result = probe(model, train, test, 5)
    assert (
        result.test_videos == test.groupby(["subject", "video"]).ngroups and result.train_videos == train.groupby(["subject", "video"]).ngroups
    )
    assert 0.0 <= result.accuracy <= 1.0 and result.majority == pytest.approx(1 / 5)  # one video of each class per subject
