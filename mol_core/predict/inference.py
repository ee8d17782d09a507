"""Run a trained MOL on new videos.

``python -m mol_core.predict --checkpoint model.pt INPUT... [--onset N] [--offset N]
[--apex N] [--out predictions.json] [--visualize DIR] [--cache DIR] [--threads N]``

INPUT is a video file OpenCV reads (mp4, avi, ...), a folder of frame images, or a
preprocessing store (``.zarr``) of the workflow's cache. ``--onset``/``--offset``/``--apex``
are 0-based frame positions (default: the whole video). Each video is aligned, landmarked
and given TV-L1 flow by the pipeline's own preprocessing (with the settings the model was
trained with), cut into clips like in training, and every clip is classified on the centre
crop; the video's class probabilities are the softmax of its mean clip logits (the Python
API is :class:`mol_core.Predictor`).

The JSON output holds, per video, each clip's and the video's class probabilities (with
the class names) and predicted class, and the model and configuration used. With
``--visualize DIR``, per video a PNG contact sheet (aligned frames with predicted
landmarks, predicted and TV-L1 flow in the colour-wheel coding, class probabilities) and
an MP4 of the same overlays (one video frame per frame pair).

An input that fails (unreadable, no face, too short) is reported on standard error and the
others are predicted and written; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..errors import MolError
from ..util.atomic import write_text
from ..util.cli import command
from .predictor import Predictor, VideoPrediction
from .visualize import contact_sheet, flow_limit, overlay_tiles, write_mp4, write_png


def visualize(prediction: VideoPrediction, out_dir: str | Path, stem: str, truth: str | None = None) -> dict:
    """Contact sheet (PNG) and overlay video (MP4): the video's class probabilities (mean over
    its clips) with the true class when known, and the frames of its most confident clip."""
    clip = prediction.most_confident_clip
    if clip.flow is None or clip.landmarks is None:
        raise MolError("the model has no flow or landmark head to show")
    rows = overlay_tiles(clip.crops, clip.landmarks, clip.flow, clip.tvl1)
    verdict = "" if truth is None else (", right" if truth == prediction.predicted else f", wrong: truth {truth}")
    title = f"{Path(prediction.input).name}: predicted {prediction.predicted}{verdict}"
    subtitle = (
        f"probabilities: the video's, from the mean logits of its {len(prediction.clips)} clips; "
        f"tiles: clip {clip.clip} (frames {clip.frames[0]}..{clip.frames[-1]}), the most confident"
    )
    out_dir = Path(out_dir)
    sheet = contact_sheet(rows, prediction.probabilities, title, flow_limit(clip.tvl1), truth, subtitle)
    png = write_png(sheet, out_dir / f"{stem}.png")
    mp4 = write_mp4(rows, out_dir / f"{stem}.mp4")
    return {"png": str(png), "mp4": str(mp4)}


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--onset", type=int, default=None, help="first frame (0-based position)")
    parser.add_argument("--offset", type=int, default=None, help="last frame (0-based position, inclusive)")
    parser.add_argument("--apex", type=int, default=None, help="apex frame (for onset+apex models)")
    parser.add_argument("--out", default=None, help="JSON file (default: standard output)")
    parser.add_argument("--visualize", default=None, metavar="DIR", help="write a PNG contact sheet and an MP4 per video")
    parser.add_argument("--cache", default=None, help="keep the preprocessing stores here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    predictor = Predictor.from_checkpoint(args.checkpoint, cache_dir=args.cache, threads=args.threads)
    if args.visualize and not predictor.draws:
        raise MolError(f"{args.checkpoint}: the model has no flow or landmark head to show (--visualize)")
    results, failures = [], []
    for source in args.inputs:
        try:
            prediction = predictor.predict(source, args.onset, args.offset, args.apex)
        except MolError as error:
            print(f"error: {error}", file=sys.stderr)
            failures.append(source)
            continue
        result = prediction.to_dict()
        if args.visualize:
            result["visualization"] = visualize(prediction, args.visualize, Path(source).stem or "video")
        result["model"] = predictor.description()
        results.append(result)
        print(
            f"{source}: {prediction.predicted} ({100 * max(prediction.probabilities.values()):.1f}%, {len(prediction.clips)} clips)",
            file=sys.stderr,
        )
    text = json.dumps(results, indent=1)
    if args.out:
        write_text(args.out, text)
    else:
        print(text)
    if failures:
        print(
            f"error: {len(failures)} of {len(args.inputs)} inputs failed ({', '.join(failures)}); "
            f"the {len(results)} others are in {args.out or 'the output'}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
