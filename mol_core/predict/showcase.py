"""Render a trained experiment's predictions on a few of its test videos, for the report.

``python -m mol_core.predict.showcase --checkpoint FOLD/model.pt [FOLD2/model.pt ...] --clips
clips.parquet [clips2.parquet ...] --count N --out-dir DIR`` writes ``example_{i}.png``
(contact sheet) and ``example_{i}.mp4`` for the first N test videos, taken fold by fold in
the order given, each rendered by the model of the fold that held it out (from the cached
stores), and ``examples.json`` with the predictions and the model of each. One clip table
serves every fold; folds that test different datasets (leave one dataset out) give one
table per checkpoint, in the same order.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import torch

from ..clips.index import check_clip_index
from ..errors import MolError
from ..util.atomic import write_text
from ..util.cli import command, existing_file
from .inference import visualize
from .predictor import Predictor


def render_examples(checkpoint_paths: list[str | Path], clips: pd.DataFrame | list[pd.DataFrame], count: int, out_dir: str | Path) -> list[dict]:
    """``clips``: the clip table of every fold's test videos, or one table per checkpoint."""
    tables = clips if isinstance(clips, list) else [clips] * len(checkpoint_paths)
    if len(tables) != len(checkpoint_paths):
        raise MolError(f"{len(tables)} clip tables for {len(checkpoint_paths)} checkpoints: give one, or one per checkpoint")
    results: list[dict] = []
    for checkpoint_path, clips in zip(checkpoint_paths, tables, strict=True):
        if len(results) == count:
            break
        predictor = Predictor.from_checkpoint(checkpoint_path)
        test = (predictor.checkpoint.subjects or {}).get("test") or []
        videos = clips[clips.subject.isin(test)].drop_duplicates(["subject", "video"])
        for row in videos.head(count - len(results)).itertuples():
            prediction = predictor.predict(row.store)
            result = prediction.to_dict()
            truth = str(row.emotion) if "emotion" in videos and str(row.emotion) in prediction.class_names else None
            result["truth"] = truth
            result["visualization"] = visualize(prediction, out_dir, f"example_{len(results)}", truth)
            result["model"] = predictor.description()
            results.append(result)
    if len(results) < count:
        raise MolError(f"{len(checkpoint_paths)} folds hold {len(results)} test videos, fewer than the {count} examples asked for")
    write_text(Path(out_dir) / "examples.json", json.dumps({"videos": results}, indent=1))
    return results


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.predict.showcase", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, nargs="+", help="fold models, in the order to draw videos from")
    parser.add_argument("--clips", required=True, nargs="+", type=existing_file, help="the test videos' clip table, or one per checkpoint")
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    for path in args.checkpoint:
        if not Path(path).is_file():
            raise MolError(f"checkpoint not found: {path}")
    tables = [pd.read_parquet(path) for path in args.clips]
    for path, table in zip(args.clips, tables, strict=True):
        check_clip_index(table, path)
    results = render_examples(args.checkpoint, tables if len(tables) > 1 else tables[0], args.count, args.out_dir)
    for result in results:
        print(f"{result['input']}: {result['video']['predicted']} -> {result['visualization']['png']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
