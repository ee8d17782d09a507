"""Render the predictions of a fold's model on a few of its test videos, for the report.

``python -m mol_core.showcase --checkpoint FOLD/model.pt --clips clips.parquet --count N
--out-dir DIR`` writes ``example_{i}.png`` (contact sheet) and ``example_{i}.mp4`` for the
first N test videos of the fold (from their cached stores), and ``examples.json`` with the
predictions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

from .atomic import write_text
from .errors import MolError
from .predict import load_checkpoint, model_description, predict_video, visualize
from .train import pick_device


def render_examples(checkpoint_path: str | Path, clips: pd.DataFrame, count: int, out_dir: str | Path) -> list[dict]:
    device = pick_device()
    model, checkpoint = load_checkpoint(checkpoint_path, device)
    test = checkpoint.get("subjects", {}).get("test") or []
    stores = clips[clips.subject.isin(test)].drop_duplicates(["subject", "video"]).store.tolist()
    if len(stores) < count:
        raise MolError(f"{checkpoint_path}: {len(stores)} test videos, fewer than the {count} examples asked for")
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for i, store in enumerate(stores[:count]):
            result = predict_video(model, checkpoint, store, Path(cache), device=device)
            result["visualization"] = visualize(result, out_dir, f"example_{i}")
            result.pop("_arrays")
            results.append(result)
    write_text(Path(out_dir) / "examples.json", json.dumps({"model": model_description(checkpoint_path, checkpoint),
                                                             "videos": results}, indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.showcase", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--clips", required=True)
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    try:
        results = render_examples(args.checkpoint, pd.read_parquet(args.clips), args.count, args.out_dir)
    except MolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for result in results:
        print(f"{result['input']}: {result['video']['predicted']} -> {result['visualization']['png']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
