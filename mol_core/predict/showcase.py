"""Render a trained experiment's predictions on a few of its test videos, for the report.

``python -m mol_core.predict.showcase --checkpoint FOLD/model.pt [FOLD2/model.pt ...] --clips
clips.parquet --count N --out-dir DIR`` writes ``example_{i}.png`` (contact sheet) and
``example_{i}.mp4`` for the first N test videos, taken fold by fold in the order given,
each rendered by the model of the fold that held it out (from the cached stores), and
``examples.json`` with the predictions and the model of each.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

from ..errors import MolError
from ..util.atomic import write_text
from ..util.device import pick_device
from .inference import load_checkpoint, model_description, predict_video, visualize


def render_examples(checkpoint_paths: list[str | Path], clips: pd.DataFrame, count: int, out_dir: str | Path) -> list[dict]:
    device = pick_device()
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as cache:
        for checkpoint_path in checkpoint_paths:
            if len(results) == count:
                break
            model, checkpoint = load_checkpoint(checkpoint_path, device)
            test = (checkpoint.subjects or {}).get("test") or []
            stores = clips[clips.subject.isin(test)].drop_duplicates(["subject", "video"]).store.tolist()
            for store in stores[: count - len(results)]:
                result = predict_video(model, checkpoint, store, Path(cache), device=device)
                result["visualization"] = visualize(result, out_dir, f"example_{len(results)}")
                result.pop("_arrays")
                result["model"] = model_description(checkpoint_path, checkpoint)
                results.append(result)
    if len(results) < count:
        raise MolError(f"{len(checkpoint_paths)} folds hold {len(results)} test videos, fewer than the {count} examples asked for")
    write_text(Path(out_dir) / "examples.json", json.dumps({"videos": results}, indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.predict.showcase", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, nargs="+", help="fold models, in the order to draw videos from")
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
