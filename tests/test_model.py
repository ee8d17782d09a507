"""The MOL network: contract, and the mathematics of its blocks."""

from __future__ import annotations

import pytest
import torch

from mol_core.model import MOL, MOLLoss
from mol_core.model.ccc import CCC, accumulate_rows, knn, max_edge_feature
from mol_core.model.correlation import correlation
from mol_core.model.f5c import F5C, GLOBAL_BLOCKS
from mol_core.model.fcc import FCCAxis
from mol_core.model.loss import flow_pyramid_loss, landmark_loss
from mol_core.model.mol import FUSIONS, fuse


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


def test_max_edge_feature_equals_eq_4_5_on_the_edge_tensor_values_and_gradients():
    torch.manual_seed(0)
    a = torch.randn(3, 10, 7, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 10, 7, dtype=torch.float64, requires_grad=True)
    neighbours = knn(b.detach(), 4)
    # Eq. 4-5 written out: every edge feature ReLU(a_i + b_j - b_i), then the max over j.
    gathered = torch.stack([b[n][neighbours[n]] for n in range(3)])  # [N,V,k,D]
    explicit = torch.relu(a[:, :, None] + gathered - b[:, :, None]).amax(dim=2)
    fast = max_edge_feature(a, b, neighbours)
    assert torch.allclose(fast, explicit)
    grad = torch.randn_like(fast)
    fast_grads, explicit_grads = torch.autograd.grad(fast, (a, b), grad), torch.autograd.grad(explicit, (a, b), grad)
    assert all(torch.allclose(x, y) for x, y in zip(fast_grads, explicit_grads, strict=True))
    assert torch.autograd.gradcheck(lambda p, q: max_edge_feature(p, q, neighbours), (a, b))
    # the backward's two ways of summing (CUDA's sorted one, the CPU's scatter) agree
    rows, values = torch.randint(0, 5, (30, 7)), torch.randn(30, 7, dtype=torch.float64)
    expected = torch.zeros(5, 7, dtype=torch.float64)
    for i in range(30):
        for d in range(7):
            expected[rows[i, d], d] += values[i, d]
    for sorted_sum in (True, False):
        assert torch.allclose(accumulate_rows(torch.Size((5, 7)), rows, values, sorted_sum), expected)


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
    outputs = {
        "logits": torch.tensor([[0.0, 0.0]]),
        "flow": torch.ones(1, 2, 2, 8, 8),
        "landmarks": batch["landmarks"] + torch.tensor([1.0, 0.0]),
    }
    total, terms = MOLLoss(0.1, 68.0, landmark_normaliser="outer_corners")(outputs, batch)
    assert float(terms["ce"]) == pytest.approx(0.6931, abs=1e-4)
    assert float(terms["flow"]) == pytest.approx(1.0)
    assert float(terms["landmark"]) == pytest.approx(0.1)
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


@pytest.mark.parametrize("frames", [2, 4, 8, 16])
@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_every_frame_the_fusion_uses_reaches_the_logits(frames, fusion):
    """The MER head's temporal pooling keeps its last window: no frame is cut off (at t=8
    the window over pairs 2-6 used to be dropped, and frame 7 had a zero gradient)."""
    torch.manual_seed(0)
    model = MOL(3, frames=frames, fusion=fusion, flow_head=False, landmark_head=False).eval()
    x = torch.rand(1, 1, frames, 128, 128, requires_grad=True)
    model(x)["logits"].sum().backward()
    reached = x.grad[0, 0].abs().flatten(1).sum(1) > 0
    used = {"first": range(frames - 1), "last": range(1, frames)}.get(fusion, range(frames))
    assert [k for k in used if not reached[k]] == []


def test_interleave_is_the_authors_layout():
    """The authors' MER input: F_0, F_1, F_1, F_2, ... along time, a 2560-input FC at t=8."""
    first = torch.arange(3.0).view(1, 3, 1, 1, 1).expand(1, 3, 2, 4, 4)
    second = first + 1
    sequence = fuse(first, second, "interleave")[0, 0, :, 0, 0]
    assert sequence.tolist() == [0, 1, 1, 2, 2, 3]
    assert MOL(5, frames=8, fusion="interleave").mer.classifier[2].in_features == 2560
    assert MOL(5, frames=8, fusion="concat").mer.classifier[2].in_features == 32 * 2 * 4 * 4


@pytest.mark.parametrize("fcc", GLOBAL_BLOCKS)
@pytest.mark.parametrize("ccc", ["channel", "spatial", "none"])
def test_zero_init_starts_every_f5c_variant_as_the_identity(fcc, ccc):
    torch.manual_seed(0)
    x = torch.randn(2, 128, 16, 16)
    assert torch.equal(F5C(fcc=fcc, ccc=ccc, zero_init=True)(x), x)
    if (fcc, ccc) != ("none", "none"):
        assert not torch.allclose(F5C(fcc=fcc, ccc=ccc, zero_init=False)(x), x)


def test_flow_decoder_sees_both_frames_and_scales_its_targets():
    torch.manual_seed(0)
    first = MOL(3, frames=3, mer_head=False, landmark_head=False, flow_width=0.125)
    both = MOL(3, frames=3, mer_head=False, landmark_head=False, flow_width=0.125, flow_skips="both")
    # The finest decoder level reads the image(s): one channel more with both frames.
    assert both.flow.predicts[-1].in_channels == first.flow.predicts[-1].in_channels + 1
    x = torch.rand(2, 1, 3, 128, 128)
    assert both(x)["flow"].shape == (2, 2, 2, 128, 128)
    scaled = MOL(3, frames=3, mer_head=False, landmark_head=False, flow_width=0.125, flow_target_scale=10.0)
    scaled.load_state_dict(first.state_dict())
    first.eval(), scaled.eval()
    assert torch.allclose(scaled(x)["flow"] * 10, first(x)["flow"], atol=1e-6)
    with pytest.raises(ValueError, match="flow skips"):
        MOL(3, flow_skips="second")


def test_quarter_resolution_flow_stops_at_one_quarter_and_upsamples():
    torch.manual_seed(0)
    full = MOL(3, frames=3, mer_head=False, landmark_head=False, flow_width=0.125)
    quarter = MOL(3, frames=3, mer_head=False, landmark_head=False, flow_width=0.125, flow_resolution="quarter")
    assert len(quarter.flow.predicts) == len(full.flow.predicts) - 2
    x = torch.rand(2, 1, 3, 128, 128)
    out = quarter.eval()(x, flow_levels=True)
    assert [level.shape[-1] for level in out["flow_levels"]] == [2, 4, 8, 16, 32]
    assert out["flow_levels"][0].shape[:3] == (2, 2, 2)
    # the output is the 1/4 estimate upsampled bilinearly, in pixels (no rescaling of values)
    last = out["flow_levels"][-1].flatten(0, 1)
    expected = torch.nn.functional.interpolate(last, size=(128, 128), mode="bilinear", align_corners=False)
    assert torch.allclose(out["flow"].flatten(0, 1), expected, atol=1e-6)
    assert "flow_levels" not in quarter(x)
    with pytest.raises(ValueError, match="flow resolution"):
        MOL(3, flow_resolution="eighth")


def test_joint_stem_lets_the_decoder_compare_the_frames_at_fine_levels():
    torch.manual_seed(0)
    plain = MOL(3, frames=2, mer_head=False, landmark_head=False, flow_width=0.125, flow_resolution="quarter")
    stem = MOL(3, frames=2, mer_head=False, landmark_head=False, flow_width=0.125, flow_resolution="quarter", flow_joint_stem=True)
    assert plain.flow.stem is None and stem.flow.stem is not None
    # the 1/4 decoder level reads the stem's 1/4 features beside the siamese ones
    assert stem.flow.predicts[-1].in_channels == plain.flow.predicts[-1].in_channels + stem.flow.stem.to_quarter[-1][0].out_channels
    stem.eval()
    x = torch.rand(1, 1, 2, 128, 128, requires_grad=True)
    flow = stem(x)["flow"]
    # the stem's input holds the frames' difference: its features change when only the
    # second frame moves by a tenth of a pixel's worth of brightness
    first, second = x[:, 0, 0].detach(), x[:, 0, 1].detach()
    half, _, _ = stem.flow.stem(first[:, None], second[:, None])
    half_moved, _, _ = stem.flow.stem(first[:, None], second[:, None] + 0.01)
    assert not torch.allclose(half, half_moved)
    flow.abs().sum().backward()
    assert x.grad[:, 0, 1].abs().sum() > 0


def test_flow_of_chosen_pairs_equals_those_pairs_of_the_full_estimate():
    torch.manual_seed(0)
    model = MOL(3, frames=4, flow_width=0.125, flow_resolution="quarter", flow_joint_stem=True).eval()
    x = torch.rand(2, 1, 4, 128, 128)
    full = model(x)
    some = model(x, flow_pairs=torch.tensor([0, 2]))
    assert some["flow"].shape == (2, 2, 2, 128, 128)
    assert torch.allclose(some["flow"], full["flow"][:, [0, 2]], atol=1e-5)
    assert torch.equal(some["logits"], full["logits"]) and torch.equal(some["landmarks"], full["landmarks"])


def test_multiscale_loss_compares_every_level_with_the_pooled_target():
    target = torch.zeros(1, 1, 2, 8, 8)
    target[..., 0, :4, :] = 1.0  # x flow 1 px in the top half
    exact = [torch.nn.functional.adaptive_avg_pool2d(target.flatten(0, 1), s).view(1, 1, 2, s, s) for s in (1, 2, 4)]
    assert float(flow_pyramid_loss(exact, target)) == 0.0
    assert float(exact[0][..., 0, 0, 0]) == 0.5  # the 1x1 level's target is the mean flow
    wrong = [torch.zeros_like(level) for level in exact]
    # per level MSE over both components: 0.5^2/2, (1/2 of the cells at 1)/2, the same
    assert float(flow_pyramid_loss(wrong, target)) == pytest.approx((0.125 + 0.25 + 0.25) / 3)
    criterion = MOLLoss(lambda_flow=1.0, lambda_landmark=0.0, flow_multiscale=True)
    outputs = {"flow": target.clone(), "flow_levels": [*wrong[:2], target]}
    total, terms = criterion(outputs, {"label": torch.zeros(1, dtype=torch.long), "flow": target})
    assert float(terms["flow"]) == 0.0 and float(terms["flow_levels"]) == pytest.approx((0.125 + 0.25) / 2)
    assert float(total) == pytest.approx(float(terms["flow_levels"]))


def test_landmark_loss_normalises_by_the_eye_centres_by_default():
    target = torch.zeros(1, 68, 2)
    target[0, 42:48, 0] = 10.0
    target[0, 36, 0], target[0, 39, 0] = -2.0, 2.0  # left eye: outer and inner corner, centre at 0
    target[0, 42, 0], target[0, 45, 0] = 8.0, 12.0  # right eye: centre at 10; outer corners 14 px apart
    pred = target + torch.tensor([1.0, 0.0])
    assert float(landmark_loss(pred, target)) == pytest.approx(0.1)
    assert float(landmark_loss(pred, target, "outer_corners")) == pytest.approx(1 / 14)


def test_authors_balance_equals_their_weights_and_averaging():
    """Their code: flow MSE / (t-1) x 10, and per frame and face sum|d| / pupil distance, summed
    over frames and faces, / (B x 68), x 0.5."""
    torch.manual_seed(0)
    b, t = 3, 8
    target = torch.rand(b, t - 1, 68, 2) * 100
    batch = {"label": torch.tensor([0, 1, 2]), "flow": torch.randn(b, t - 1, 2, 8, 8), "landmarks": target}
    outputs = {"flow": torch.randn(b, t - 1, 2, 8, 8), "landmarks": target + torch.randn(b, t - 1, 68, 2)}
    total, _ = MOLLoss.for_balance("authors", t)(outputs, batch)
    pupil = (target[..., 42:48, :].mean(-2) - target[..., 36:42, :].mean(-2)).norm(dim=-1)  # [B,T-1]
    landmark = ((outputs["landmarks"] - target).abs().sum((-1, -2)) / pupil).sum() / (b * 68)
    flow = torch.nn.functional.mse_loss(outputs["flow"], batch["flow"]) / (t - 1)
    assert float(total) == pytest.approx(float(10 * flow + 0.5 * landmark), rel=1e-5)
    readme, _ = MOLLoss.for_balance("authors_readme", t)(outputs, batch)  # their README's --ldm_weight 0.1
    assert float(readme) == pytest.approx(float(10 * flow + 0.1 * landmark), rel=1e-5)
    paper = MOLLoss.for_balance("paper", t)
    assert (paper.lambda_flow, paper.lambda_landmark) == (0.1, 68.0)
