"""The three alignments (``preprocess.align``) against the synthetic set's exact truth, each
measured in the same run (not run by pytest).

    python tests/benchmarks/alignment_modes.py [--preset demo|hard] [--subjects 4]

Generates a synthetic set (the demo's generator settings, or the harder preset of
``tests/benchmarks/synthetic_hard.yaml``), preprocesses every video once per alignment with
the demo's TV-L1 and 8-frame uniform clips, and prints per alignment, over the 128 x 128
centre crop the network sees:

- ``non-expression share``: of the exact crop flow's energy (sum of squared vectors over all
  clip pairs), the share that is not the expression: head motion left in, plus the
  alignment's own motion (dlib jitter, expression taken for head motion);
- ``TV-L1 EPE vs exact`` and ``vs expression``: the flow target's end-point error against the
  exact crop flow and against the expression-only flow (what a flow head should learn);
- ``dlib NME``: the stored landmarks against the exact ones (eye-centre normaliser);
- ``seconds/video``: building the store (detection, landmarks, alignment, writing), and the
  TV-L1 of its pairs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from mol_core.clips.sampling import Sampling
from mol_core.datasets import load
from mol_core.metrics import landmark_nme
from mol_core.preprocess import open_store
from mol_core.preprocess.video import build_flow, build_store
from mol_core.store.keys import ALIGN_MODES, PreprocessSettings
from mol_core.store.zarr_store import stored_transforms
from mol_core.synthetic import SyntheticSettings, generate_dataset
from mol_core.synthetic.layout import load_ground_truth
from mol_core.synthetic.truth import ground_truth_in_crop
from mol_core.util.presets import preset

REPO = Path(__file__).resolve().parents[2]
CENTRE = slice(8, 136)  # the 128 x 128 centre crop of a 144 x 144 store


def generator_settings(name: str, subjects: int) -> SyntheticSettings:
    values = {"subjects": subjects, "videos_per_class": 1, "extra_subjects": 0}
    if name == "hard":
        hard = yaml.safe_load((REPO / "tests/benchmarks/synthetic_hard.yaml").read_text())["synthetic"]
        values = {**hard, **values}
    return SyntheticSettings.from_dict(values)


def measure(records, root: Path, stores: Path, settings: PreprocessSettings, sampling: Sampling, pad: int) -> dict:
    energy = {"total": 0.0, "other": 0.0}
    epe_exact, epe_expression, nmes, store_s, flow_s = [], [], [], 0.0, 0.0
    for record in records:
        store = stores / f"{record.subject}_{record.video}.zarr"
        start = time.perf_counter()
        build_store(record.frames, store, settings, {})
        store_s += time.perf_counter() - start
        start = time.perf_counter()
        flow = build_flow(store, sampling, settings)
        flow_s += time.perf_counter() - start
        group = open_store(store)
        n = group["frames"].shape[0]
        pairs = group[f"pairs/{flow['flow']}"][:]
        gt = load_ground_truth(root, record.subject, record.video)
        truth = ground_truth_in_crop(gt, stored_transforms(group.attrs, n), 144, pad, n, pairs, expression=True)
        exact = truth["flow"][..., CENTRE, CENTRE].astype(np.float64)
        expression = truth["expression_flow"][..., CENTRE, CENTRE].astype(np.float64)
        teacher = group[f"flow/{flow['flow']}"][:][..., CENTRE, CENTRE].astype(np.float64)
        energy["total"] += float((exact**2).sum())
        energy["other"] += float(((exact - expression) ** 2).sum())
        epe_exact.append(np.linalg.norm(teacher - exact, axis=1).mean())
        epe_expression.append(np.linalg.norm(teacher - expression, axis=1).mean())
        nmes.append(landmark_nme(group["landmarks"][:], truth["landmarks"]).mean())
    count = len(records)
    return {
        "non-expression share": energy["other"] / energy["total"],
        "TV-L1 EPE vs exact": float(np.mean(epe_exact)),
        "TV-L1 EPE vs expression": float(np.mean(epe_expression)),
        "dlib NME": float(np.mean(nmes)),
        "store s/video": store_s / count,
        "flow s/video": flow_s / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=("demo", "hard"), default="demo")
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--sigma", type=float, default=PreprocessSettings().align_sigma)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    demo = preset("demo")["preprocess"]
    sampling = Sampling(8)
    generator = generator_settings(args.preset, args.subjects)
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_dataset(Path(tmp) / "data", REPO / "resources" / "faces", generator, verbose=False)
        records = load("synthetic", root)
        print(
            f"{len(records)} videos of {generator.subjects} subjects ({args.preset} generator: head motion {generator.head_motion_px} px / "
            f"{generator.head_motion_deg} deg, apex {generator.amplitude} px, noise {generator.noise_sigma}); sigma {args.sigma} frames"
        )
        header = None
        for align in ALIGN_MODES:
            settings = PreprocessSettings.from_dict({**demo, "align": align, "align_sigma": args.sigma})
            row = measure(records, root, Path(tmp) / align, settings, sampling, generator.pad_frames)
            if header is None:
                header = list(row)
                print("| align | " + " | ".join(header) + " |")
                print("|---" * (len(header) + 1) + "|")
            print(
                f"| {align} | " + " | ".join(f"{row[k]:.4f}" if "share" in k or "NME" in k else f"{row[k]:.3f}" for k in header) + " |",
                flush=True,
            )


if __name__ == "__main__":
    main()
