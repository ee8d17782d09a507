"""The MOL network: contract, and the mathematics of its blocks."""

from __future__ import annotations

import pytest
import torch

from mol_core.model import MOL, MOLLoss
from mol_core.model.ccc import CCC
from mol_core.model.correlation import correlation
from mol_core.model.fcc import FCCAxis
from mol_core.model.mol import FUSIONS


def naive_correlation(a, b, max_d, stride):
    n, c, h, w = a.shape
    steps = range(-max_d, max_d + 1, stride)
    out = torch.zeros(n, len(steps) ** 2, h, w)
    for d, (dy, dx) in enumerate((dy, dx) for dy in steps for dx in steps):
        for y in range(h):
            for x in range(w):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    out[:, d, y, x] = (a[:, :, y, x] * b[:, :, y + dy, x + dx]).sum(1) / c
    return out


def test_correlation_equals_naive_reference():
    torch.manual_seed(0)
    a, b = torch.randn(2, 5, 6, 7), torch.randn(2, 5, 6, 7)
    for max_d, stride in [(2, 1), (4, 2), (20, 2)]:
        assert torch.allclose(correlation(a, b, max_d, stride), naive_correlation(a, b, max_d, stride), atol=1e-5)


def test_fcc_v_commutes_with_circular_shift_along_h():
    torch.manual_seed(0)
    block = FCCAxis(channels=3, length=8, axis="v")
    with torch.no_grad():
        block.position.zero_()
    x = torch.randn(2, 3, 8, 5)
    assert torch.allclose(block(torch.roll(x, 3, dims=2)), torch.roll(block(x), 3, dims=2), atol=1e-5)
    # and equals eq. 2 written out
    u = block.kernel.detach()
    expected = torch.stack([sum(u[None, :, s, None] * x[:, :, (i + s) % 8] for s in range(8)) for i in range(8)], dim=2)
    assert torch.allclose(block(x), expected, atol=1e-5)


def test_ccc_is_equivariant_to_channel_permutation():
    torch.manual_seed(0)
    ccc = CCC(channels=16, height=4, width=4, k=3)
    x = torch.randn(2, 16, 4, 4)
    perm = torch.randperm(16)
    assert torch.allclose(ccc.aggregate(x[:, perm]), ccc.aggregate(x)[:, perm], atol=1e-5)


def test_contract_shapes_and_errors():
    model = MOL(5, frames=4, flow_width=0.125)
    out = model(torch.rand(2, 1, 4, 128, 128))
    assert out["logits"].shape == (2, 5)
    assert out["flow"].shape == (2, 3, 2, 128, 128)
    assert out["landmarks"].shape == (2, 3, 68, 2)
    with pytest.raises(ValueError, match=r"expects input \[B,1,4,128,128\], got \[2, 1, 8, 128, 128\]"):
        model(torch.rand(2, 1, 8, 128, 128))
    bare = MOL(3, frames=4, flow_head=False, landmark_head=False)
    assert set(bare(torch.rand(1, 1, 4, 128, 128))) == {"logits"}


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_every_fusion_trains(fusion):
    torch.manual_seed(0)
    model = MOL(3, frames=3, fusion=fusion, flow_head=False, landmark_head=False)
    x = torch.rand(2, 1, 3, 128, 128)
    loss = torch.nn.functional.cross_entropy(model(x)["logits"], torch.tensor([0, 2]))
    loss.backward()
    assert model.mer.conv.weight.grad.abs().sum() > 0


def test_loss_terms_follow_eq_9():
    torch.manual_seed(0)
    batch = {"label": torch.tensor([1]), "flow": torch.zeros(1, 2, 2, 8, 8), "landmarks": torch.zeros(1, 2, 68, 2)}
    batch["landmarks"][..., 45, 0] = 10.0  # inter-ocular distance 10 px
    outputs = {"logits": torch.tensor([[0.0, 0.0]]), "flow": torch.ones(1, 2, 2, 8, 8),
               "landmarks": batch["landmarks"] + torch.tensor([1.0, 0.0])}
    total, terms = MOLLoss(0.1, 68.0)(outputs, batch)
    assert terms["ce"] == pytest.approx(0.6931, abs=1e-4)
    assert terms["flow"] == pytest.approx(1.0)
    assert terms["landmark"] == pytest.approx(0.1)
    assert float(total) == pytest.approx(0.6931 + 0.1 * 1.0 + 68 * 0.1, abs=1e-3)


VARIANTS = {
    "paper": {},
    "w/o OFE": {"flow_head": False},
    "w/o FLD": {"landmark_head": False},
    "w/o OFE&FLD": {"flow_head": False, "landmark_head": False},
    "w/o MER": {"mer_head": False},
    "w/o F5C": {"f5c_blocks": 0},
    "w/o FCC": {"fcc": "none"},
    "w/o CCC": {"ccc": "none"},
    "transformer": {"fcc": "transformer"},
    "FCC-V": {"fcc": "fcc_v"},
    "FCC-H": {"fcc": "fcc_h"},
    "2 F5C": {"f5c_blocks": 2},
    "3 F5C": {"f5c_blocks": 3},
    "separate pair weights": {"pair_weights": "separate"},
    "spatial CCC": {"ccc": "spatial"},
    **{f"fusion {f}": {"fusion": f} for f in FUSIONS if f != "concat"},
}


def joint_loss(out):
    return sum(v.float().pow(2).mean() for v in out.values())


@pytest.mark.parametrize("frames", [2, 4, 8, 16])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_runs_forward_and_backward(variant, frames):
    torch.manual_seed(0)
    options = {"flow_width": 0.0625, **VARIANTS[variant]}
    model = MOL(3, frames=frames, **options)
    out = model(torch.rand(1, 1, frames, 128, 128))
    expected = {"logits": (1, 3), "flow": (1, frames - 1, 2, 128, 128), "landmarks": (1, frames - 1, 68, 2)}
    for key, head in (("logits", "mer_head"), ("flow", "flow_head"), ("landmarks", "landmark_head")):
        if options.get(head, True):
            assert tuple(out[key].shape) == expected[key], (variant, key)
        else:
            assert key not in out
    joint_loss(out).backward()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gradients_reach_every_parameter(variant):
    """After one update (the zero-initialised last layers of residual branches and of the
    landmark head pass gradients on from the second step), every parameter gets a gradient."""
    torch.manual_seed(0)
    model = MOL(3, frames=3, flow_width=0.0625, dropout=0.0, **VARIANTS[variant])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(2, 1, 3, 128, 128)
    for _ in range(2):
        optimizer.zero_grad()
        joint_loss(model(x)).backward()
        optimizer.step()
    dead = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead


def test_full_size_matches_the_authors_flow_head():
    counts = MOL(5, frames=8).parameter_counts()
    assert abs(counts["flow_head"] - 39.7e6) < 0.1e6
    assert abs(counts["total"] - 44.1e6) < 1.0e6


def test_separate_pair_weights_use_two_f5c_stacks():
    torch.manual_seed(0)
    model = MOL(3, frames=4, pair_weights="separate", flow_head=False, landmark_head=False)
    with torch.no_grad():
        for p in model.f5c_second.parameters():
            p.add_(0.1)
    first, second = model.pair_features(torch.rand(1, 1, 4, 128, 128))
    assert not torch.allclose(first[:, 1:], second[:, :-1])  # frame k's features depend on its role
    shared = MOL(3, frames=4, flow_head=False, landmark_head=False)
    first, second = shared.pair_features(torch.rand(1, 1, 4, 128, 128))
    assert torch.equal(first[:, 1:], second[:, :-1])


def test_summary_cli(capsys):
    from mol_core.model.__main__ import main

    assert main(["--summary", "--option", "flow_width=0.25", "--frames", "4"]) == 0
    out = capsys.readouterr().out
    assert "flow_head" in out and "total" in out and "44.1M" in out
    assert main(["--summary", "--option", "fusion=sideways"]) == 1
