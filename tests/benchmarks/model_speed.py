"""Model speed, printed as ratios measured in one run (not run by pytest).

    python tests/benchmarks/model_speed.py [--threads 2] [--repeats 3]

Prints, for the default (full-size) MOL at t=8:
- forward+backward seconds at batch 2 and 8, and peak memory (CUDA: allocator peak; CPU:
  peak resident memory of a fresh process per batch size);
- the same work done the way the authors' code does it (a loop over the t-1 pairs that runs
  the conv stack on both frames of every pair, separate F5C weights, and a spatial-graph CCC
  evaluated vertex by vertex and neighbour by neighbour), and our speed-up over it;
- FCC and the correlation layer against naive loop implementations of eq. 2-3 and of the
  FlowNetC correlation (target: at least 5x each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from mol_core.model import MOL
from mol_core.model.ccc import CCC, knn
from mol_core.model.correlation import correlation
from mol_core.model.fcc import FCC


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def joint_backward(out: dict) -> None:
    sum(v.float().pow(2).mean() for v in out.values()).backward()


# --- naive references --------------------------------------------------------------------


def naive_fcc_axis(block, x):
    """Eq. 2/3b as written: a loop over the offsets s."""
    length = block.length
    x = x + (block.position[None, :, :, None] if block.axis == "v" else block.position[None, :, None, :])
    dim = 2 if block.axis == "v" else 3
    out = torch.zeros_like(x)
    for s in range(length):
        u = block.kernel[:, s].view(1, -1, 1, 1)
        out = out + u * torch.roll(x, -s, dims=dim)
    return out


def naive_fcc(fcc: FCC, x):
    x = fcc.pre(x)
    outs = []
    for branch in fcc.branches:
        y = x
        for block in branch if isinstance(branch, torch.nn.Sequential) else [branch]:
            y = naive_fcc_axis(block, y)
        outs.append(y)
    return fcc.fuse(torch.cat(outs, dim=1))


def naive_correlation(a, b, max_d=20, stride=2):
    """One displacement at a time, as a hand-written correlation kernel would."""
    n, c, h, w = a.shape
    steps = range(-max_d, max_d + 1, stride)
    padded = F.pad(b, (max_d, max_d, max_d, max_d))
    maps = []
    for dy in steps:
        for dx in steps:
            shifted = padded[:, :, max_d + dy : max_d + dy + h, max_d + dx : max_d + dx + w]
            maps.append((a * shifted).sum(1) / c)
    return torch.stack(maps, 1)


def naive_spatial_ccc(ccc: CCC, x):
    """Spatial-graph CCC, vertex by vertex and neighbour by neighbour (the authors' loops)."""
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w).transpose(1, 2)  # [N,HW,C]
    neighbours = knn(f.detach(), ccc.k)
    rows = []
    for i in range(h * w):
        fi = f[:, i]
        best = None
        for j in range(ccc.k):
            fj = f[torch.arange(n), neighbours[:, i, j]]
            e = F.relu(ccc.self_weight(fi) + ccc.edge_weight(fj - fi))
            best = e if best is None else torch.maximum(best, e)
        rows.append(best)
    return ccc.out(torch.stack(rows, 2).reshape(n, c, h, w))


def authors_style_forward(model: MOL, x):
    """The authors' order of work on our modules: per pair, conv stack on both frames, F5C
    with separate weights per frame role, naive spatial CCC; then the heads per pair."""
    b, _, t, h, w = x.shape
    pair_feats, flows, marks = [], [], []
    for k in range(t - 1):
        fa = model.features(x[:, :, k])
        fb = model.features(x[:, :, k + 1])
        for block_a, block_b in zip(model.f5c, model.f5c_second, strict=True):
            fa = fa + block_a.fcc(fa)
            fa = fa + naive_spatial_ccc(block_a.ccc, fa)
            fb = fb + block_b.fcc(fb)
            fb = fb + naive_spatial_ccc(block_b.ccc, fb)
        pair_feats.append(torch.cat([fa, fb], 1))
        flows.append(model.flow(x[:, :, k], x[:, :, k + 1], torch.cat([fa, fb], 1)))
        marks.append(model.landmarks(fb))
    logits = model.mer(torch.stack(pair_feats, 2))
    return {"logits": logits, "flow": torch.stack(flows, 1), "landmarks": torch.stack(marks, 1)}


# --- measurements ------------------------------------------------------------------------


def peak_memory_mb(batch: int, threads: int) -> float:
    """Peak memory of one forward+backward at ``batch`` in a fresh process (CPU) or the
    CUDA allocator's peak."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        model = MOL(5, 8).cuda()
        joint_backward(model(torch.rand(batch, 1, 8, 128, 128, device="cuda")))
        return torch.cuda.max_memory_allocated() / 2**20
    code = (
        f"import torch,resource,sys; torch.set_num_threads({threads}); from mol_core.model import MOL; "
        f"m=MOL(5,8); o=m(torch.rand({batch},1,8,128,128)); sum(v.pow(2).mean() for v in o.values()).backward(); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    results = {"device": str(device), "threads": args.threads}

    model = MOL(5, 8).to(device)
    for batch in (2, 8):
        x = torch.rand(batch, 1, 8, 128, 128, device=device)
        results[f"mol_fwd_bwd_batch{batch}_s"] = timed(lambda x=x: joint_backward(model(x)), args.repeats)
        results[f"peak_memory_batch{batch}_mb"] = peak_memory_mb(batch, args.threads)

    authors = MOL(5, 8, pair_weights="separate", ccc="spatial").to(device)
    ours = MOL(5, 8).to(device)
    x = torch.rand(2, 1, 8, 128, 128, device=device)
    results["authors_style_fwd_bwd_batch2_s"] = timed(lambda: joint_backward(authors_style_forward(authors, x)), 1)
    results["ours_fwd_bwd_batch2_s"] = timed(lambda: joint_backward(ours(x)), args.repeats)
    results["speedup_vs_authors_style"] = results["authors_style_fwd_bwd_batch2_s"] / results["ours_fwd_bwd_batch2_s"]

    fcc = FCC().to(device)
    feats = torch.rand(14 * 2, 128, 16, 16, device=device)
    assert torch.allclose(fcc(feats), naive_fcc(fcc, feats), atol=1e-4)
    results["fcc_fwd_bwd_s"] = timed(lambda: fcc(feats).sum().backward(), args.repeats)
    results["fcc_naive_fwd_bwd_s"] = timed(lambda: naive_fcc(fcc, feats).sum().backward(), args.repeats)
    results["fcc_speedup"] = results["fcc_naive_fwd_bwd_s"] / results["fcc_fwd_bwd_s"]

    a = torch.rand(14 * 2, 256, 16, 16, device=device, requires_grad=True)
    b = torch.rand(14 * 2, 256, 16, 16, device=device, requires_grad=True)
    assert torch.allclose(correlation(a, b), naive_correlation(a, b), atol=1e-4)
    results["correlation_fwd_bwd_s"] = timed(lambda: correlation(a, b).sum().backward(), args.repeats)
    results["correlation_naive_fwd_bwd_s"] = timed(lambda: naive_correlation(a, b).sum().backward(), args.repeats)
    results["correlation_speedup"] = results["correlation_naive_fwd_bwd_s"] / results["correlation_fwd_bwd_s"]

    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.3f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
