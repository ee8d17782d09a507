"""Run a trained MOL on new videos.

``python -m mol_core.predict --checkpoint model.pt INPUT... [--onset N] [--offset N]
[--apex N] [--out predictions.json] [--visualize DIR] [--cache DIR] [--threads N]``

INPUT is a video file OpenCV reads (mp4, avi, ...), a folder of frame images, or a
preprocessing store (``.zarr``) of the workflow's cache. ``--onset``/``--offset``/``--apex``
are 0-based frame positions (default: the whole video). Each video is aligned, landmarked
and given TV-L1 flow by the pipeline's own preprocessing (with the settings the model was
trained with), cut into clips like in training, and every clip is classified on the centre
crop; the video's class probabilities are the softmax of its mean clip logits.

The JSON output holds, per video, each clip's and the video's class probabilities (with
the class names) and predicted class, and the model and configuration used. With
``--visualize DIR``, per video a PNG contact sheet (aligned frames with predicted
landmarks, predicted and TV-L1 flow in the colour-wheel coding, class probabilities) and
an MP4 of the same overlays (one video frame per frame pair).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..clips.augment import augment
from ..clips.data import CROP
from ..clips.index import video_clips
from ..clips.sampling import Sampling
from ..errors import DataError, MolError
from ..model import MOL, Checkpoint
from ..preprocess import build_flow, build_store, open_store
from ..store.keys import PreprocessSettings, cache_key
from ..store.zarr_store import store_status
from ..util.atomic import write_text
from ..util.device import pick_device
from ..util.video_io import image_files, is_video_file, video_frame_refs
from .visualize import contact_sheet, overlay_tiles, write_mp4, write_png


def load_checkpoint(path: str | Path, device: torch.device) -> tuple[MOL, Checkpoint]:
    """(model in eval mode on ``device``, its checkpoint); MolError for anything that is not
    a loadable classifier checkpoint of this package version."""
    checkpoint = Checkpoint.load(path)
    if not checkpoint.has_mer_head:
        raise MolError(f"{path}: a pre-training checkpoint (no MER head) cannot classify videos")
    return checkpoint.build_model(device), checkpoint


def checkpoint_preprocessing(checkpoint: Checkpoint) -> tuple[PreprocessSettings, Sampling]:
    """The preprocessing and clip sampling the model was trained with (defaults for
    checkpoints that do not record them)."""
    recorded = checkpoint.preprocess or {}
    settings = PreprocessSettings(**recorded.get("store", {}), flow=recorded.get("flow", {}).get("tvl1", {}),
                                  flow_dtype=recorded.get("flow", {}).get("dtype", "float16"))
    sampling = Sampling.from_name(checkpoint.sampling) if checkpoint.sampling else Sampling(checkpoint.frames)
    if sampling.frames != checkpoint.frames:
        raise MolError(f"{checkpoint.where}: for {checkpoint.frames}-frame clips but records sampling {sampling.name}")
    return settings, sampling


def input_frames(path: Path) -> list[str]:
    if is_video_file(path):
        return video_frame_refs(path)
    if path.is_dir():
        frames = [str(f) for f in image_files(path)]
        if not frames:
            raise DataError(f"{path}: no image files in this folder")
        return frames
    raise DataError(f"{path}: not a video file OpenCV reads, a folder of frames or a .zarr store")


def predict_video(model: MOL, checkpoint: Checkpoint, source: str | Path, cache: Path, onset: int | None = None,
                  offset: int | None = None, apex: int | None = None, threads: int = 1,
                  device: torch.device | None = None) -> dict:
    """Classify one video; returns the JSON-ready result plus ``_arrays`` for pictures."""
    device = device or next(model.parameters()).device
    settings, sampling = checkpoint_preprocessing(checkpoint)
    source = Path(source)
    if source.suffix == ".zarr":
        store = source
        if store_status(store)[0] != "complete":
            raise DataError(f"{store}: not a complete preprocessing store")
        start = onset or 0
        if start or offset is not None:
            raise MolError(f"{store}: --onset/--offset select frames of videos, not of stores")
        n_total = None  # the store is the whole video
    else:
        if not source.exists():
            raise DataError(f"{source}: no such video file or folder")
        frames = input_frames(source)
        n_total = len(frames)
        start, stop = onset or 0, offset if offset is not None else len(frames) - 1
        if not 0 <= start <= stop < len(frames):
            raise DataError(f"{source}: frames {start}..{stop} are outside its {len(frames)} frames")
        key = cache_key({"input": str(source.resolve()), "frames": [start, stop], "store": settings.store_params()})
        store = cache / f"{source.stem}-{key}.zarr"
        made = build_store(frames[start : stop + 1], store, settings, {"input": str(source)})
        if made["status"] != "complete":
            raise DataError(f"{source}: {made['reason']}")
    apex_index = None if apex is None else apex - start
    made_flow = build_flow(store, sampling, settings, threads, apex_index)
    if made_flow["status"] != "complete":  # e.g. too short for one clip
        raise DataError(f"{source}: {made_flow['reason']} (the model takes {sampling.name} clips)")
    flow = made_flow["flow"]
    opened = open_store(store)
    crops, landmarks = opened["frames"][:], opened["landmarks"][:]
    n_frames = len(crops)
    n_total = n_total or n_frames
    flows = opened[f"flow/{flow}"][:].astype(np.float32)
    names = list(checkpoint.class_names)
    clips, logits, outputs = [], [], []
    with torch.no_grad():
        for k, (clip, rows) in enumerate(video_clips(opened, sampling, flow, apex_index)):
            f, fl, _ = augment(crops[clip], flows[rows], landmarks[clip[1:]], CROP, None)
            x = torch.from_numpy(np.ascontiguousarray(f, np.float32) / 255.0)[None, None].to(device)
            out = {key: value[0].float().cpu().numpy() for key, value in model(x).items()}
            probabilities = torch.softmax(torch.from_numpy(out["logits"]), 0).numpy()
            clips.append({"clip": k, "frames": [int(c) + start for c in clip],
                          "probabilities": dict(zip(names, map(float, probabilities))),
                          "predicted": names[int(probabilities.argmax())]})
            logits.append(out["logits"])
            outputs.append({"frames": f, "tvl1": fl, **out})
    video = torch.softmax(torch.from_numpy(np.mean(logits, 0)), 0).numpy()
    return {
        "input": str(source), "frames_total": n_total, "frames_used": [start, start + n_frames - 1],
        "clips": clips,
        "video": {"probabilities": dict(zip(names, map(float, video))), "predicted": names[int(video.argmax())]},
        "_arrays": outputs,
    }


def model_description(path: str | Path, checkpoint: Checkpoint) -> dict:
    settings, sampling = checkpoint_preprocessing(checkpoint)
    return {"checkpoint": str(path), "version": checkpoint.version, "class_names": list(checkpoint.class_names),
            "frames": checkpoint.frames, "options": checkpoint.model_options, "fold": checkpoint.fold,
            "step": checkpoint.step, "preprocess": settings.to_dict(), "sampling": sampling.name}


def visualize(result: dict, out_dir: str | Path, stem: str) -> dict:
    """Contact sheet (PNG) and overlay video (MP4) of the most confident clip."""
    arrays = result["_arrays"]
    best = int(np.argmax([max(c["probabilities"].values()) for c in result["clips"]]))
    clip = arrays[best]
    if "flow" not in clip or "landmarks" not in clip:
        raise MolError("the model has no flow or landmark head to show")
    rows = overlay_tiles(clip["frames"], clip["landmarks"], clip["flow"], clip["tvl1"])
    title = (f"{Path(result['input']).name}: {result['video']['predicted']} (clip {best}, frames "
             f"{result['clips'][best]['frames'][0]}..{result['clips'][best]['frames'][-1]})")
    out_dir = Path(out_dir)
    png = write_png(contact_sheet(rows, result["video"]["probabilities"], title), out_dir / f"{stem}.png")
    mp4 = write_mp4(rows, out_dir / f"{stem}.mp4")
    return {"png": str(png), "mp4": str(mp4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mol_core.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    device = pick_device()
    try:
        model, checkpoint = load_checkpoint(args.checkpoint, device)
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(args.cache) if args.cache else Path(tmp)
            for source in args.inputs:
                result = predict_video(model, checkpoint, source, cache, args.onset, args.offset, args.apex, args.threads, device)
                if args.visualize:
                    result["visualization"] = visualize(result, args.visualize, Path(source).stem or "video")
                result.pop("_arrays")
                result["model"] = model_description(args.checkpoint, checkpoint)
                results.append(result)
                print(f"{source}: {result['video']['predicted']} "
                      f"({100 * max(result['video']['probabilities'].values()):.1f}%, {len(result['clips'])} clips)",
                      file=sys.stderr)
    except MolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = json.dumps(results, indent=1)
    if args.out:
        write_text(args.out, text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
