"""Exact ground truth of a synthetic video mapped into a store's aligned crops.

Frame ``t``'s crop is ``crop_t(u) = frame_t(S_t^-1 u)`` for the similarity ``S_t`` of the
store's transforms (one for all frames under a per-video alignment). A frame point ``x``
of frame ``a`` that the video's motion carries to ``x + F(x)`` in frame ``b`` is therefore
seen at ``S_a x`` in crop ``a`` and at ``S_b (x + F(x))`` in crop ``b``: the crop flow from
``a`` to ``b`` is ``S_b(x + F(x)) - u`` with ``x = S_a^-1 u`` (``A F(S^-1 u)`` when
``S_a = S_b``), and landmarks map through each frame's own ``S_t``.

The expression-only flow keeps frame ``a``'s head pose: with the generator's rigid head
motions ``H_t`` (``head`` in the ground truth), ``x_b`` goes to ``H_a H_b^-1 x_b`` and is
seen through ``S_a``. What the crop flow holds besides it (their difference) is the head
motion the alignment left in, plus the alignment's own frame-to-frame motion (jitter, and
expression it took for head motion).
"""

from __future__ import annotations

import numpy as np

from ..util.geometry import apply_affine, bilinear_sample, invert_affine, pixel_grid


def compose_flow(flows: np.ndarray, first: int, last: int) -> np.ndarray:
    """Flow [H,W,2] from frame ``first`` to frame ``last`` by chaining the consecutive flows
    [N-1,2,H,W]: each pixel is carried pair by pair."""
    height, width = flows.shape[-2:]
    grid = pixel_grid(height, width)
    position = grid.copy()
    for k in range(first, last):
        position = position + bilinear_sample(np.moveaxis(flows[k].astype(np.float64), 0, -1), position)
    return position - grid


def _as_frames(transforms, n_frames: int) -> np.ndarray:
    """[2,3] (one for all frames) or [T,2,3] -> [T,2,3] float64."""
    transforms = np.asarray(transforms, dtype=np.float64)
    return np.repeat(transforms[None], n_frames, axis=0) if transforms.ndim == 2 else transforms


def flow_in_crop(
    flow: np.ndarray, transform: np.ndarray, size: int, last_transform: np.ndarray | None = None, head: tuple | None = None
) -> np.ndarray:
    """Frame flow [H,W,2] -> crop flow [2,size,size] (x, y) from the crop of the first frame
    (``transform`` [2,3]) to the crop of the last (``last_transform``, default the same).
    ``head``: (H_first, H_last) [2,3] each: the expression-only flow instead, seen in the
    first crop (module doc)."""
    transform = np.asarray(transform, dtype=np.float64)
    grid = pixel_grid(size, size)
    start = apply_affine(invert_affine(transform), grid)
    end = start + bilinear_sample(flow, start)
    if head is not None:
        end = apply_affine(np.asarray(head[0], np.float64), apply_affine(invert_affine(head[1]), end))
        last_transform = transform
    seen = apply_affine(transform if last_transform is None else np.asarray(last_transform, np.float64), end)
    return np.moveaxis(seen - grid, -1, 0)


def ground_truth_in_crop(
    gt: dict, transforms, size: int, first_frame_index: int, n_frames: int, pairs, expression: bool = False
) -> dict[str, np.ndarray]:
    """Exact ``flow`` [P,2,size,size] for store pairs [P,2] and ``landmarks`` [T,68,2] of the
    store's ``n_frames`` frames, in crop pixels, under the store's ``transforms`` ([2,3] or
    [T,2,3]). ``first_frame_index`` is the position of the store's first frame in the
    ground truth (the number of frames before the onset). ``expression``: also
    ``expression_flow`` [P,2,size,size], the expression-only flow (needs ``head`` in ``gt``)."""
    transforms = _as_frames(transforms, n_frames)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    at = first_frame_index
    frame_flows = [compose_flow(gt["flow"], at + a, at + b) for a, b in pairs]
    empty = np.zeros((0, 2, size, size), np.float32)

    def stacked(flows: list) -> np.ndarray:
        return np.stack(flows).astype(np.float32) if flows else empty

    out = {
        "flow": stacked([flow_in_crop(f, transforms[a], size, transforms[b]) for f, (a, b) in zip(frame_flows, pairs, strict=True)]),
        "landmarks": np.stack([apply_affine(m, p) for m, p in zip(transforms, gt["landmarks"][at : at + n_frames], strict=True)]).astype(
            np.float32
        ),
    }
    if expression:
        if "head" not in gt:
            raise KeyError("this ground truth has no head motion (made by an earlier version); regenerate the synthetic set")
        head = gt["head"]
        out["expression_flow"] = stacked(
            [flow_in_crop(f, transforms[a], size, head=(head[at + a], head[at + b])) for f, (a, b) in zip(frame_flows, pairs, strict=True)]
        )
    return out
