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
