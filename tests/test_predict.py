"""Prediction on new videos and the pictures of what the model sees."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import mol_core
from mol_core.clips.index import build_clip_index
from mol_core.datasets import class_names
from mol_core.errors import CheckpointError, MolError
from mol_core.model import MOL, Checkpoint
from mol_core.predict.inference import main as predict_main
from mol_core.predict.showcase import render_examples
from mol_core.predict.visualize import CAPTION, flow_to_colour
from mol_core.train.loop import TrainSettings, train_fold

from .conftest import SMALL_PREPARATION, SMALL_SAMPLING, markers_of

T = SMALL_SAMPLING.frames


@pytest.fixture(scope="module")
def clips(small_stores, small_videos):
    return build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)[0]


def train_small(clips, fold, out):
    train_fold(
        clips,
        fold,
        out,
        class_names("synthetic", 5),
        TrainSettings(steps=2, batch_size=4, eval_every=1),
        {"flow_width": 0.0625, "fusion": "subtract"},
        log=lambda m: None,
    )
    return out / "model.pt"


@pytest.fixture(scope="module")
def checkpoint(clips, tmp_path_factory):
    return train_small(clips, "sub01", tmp_path_factory.mktemp("model"))


def test_showcase_draws_test_videos_fold_by_fold(checkpoint, clips, tmp_path):
    second = train_small(clips, "sub02", tmp_path / "sub02")
    first_fold = clips[clips.subject == "sub01"].video.nunique()  # 5: every class once
    results = render_examples([checkpoint, second], clips, first_fold + 1, tmp_path / "examples")
    assert [r["model"]["fold"] for r in results] == ["sub01"] * first_fold + ["sub02"]
    assert all(Path(r["input"]).parent.name == fold for r, fold in zip(results, ["sub01"] * first_fold + ["sub02"], strict=True))
    assert (tmp_path / "examples" / f"example_{first_fold}.png").is_file()
    emotions = clips.drop_duplicates(["subject", "video"]).set_index(["subject", "video"]).emotion
    assert [r["truth"] for r in results] == [emotions[(Path(r["input"]).parent.name, Path(r["input"]).stem)] for r in results]
    written = json.loads((tmp_path / "examples" / "examples.json").read_text())["videos"]
    assert [v["input"] for v in written] == [r["input"] for r in results]
    with pytest.raises(MolError, match="fewer than the 11 examples"):
        render_examples([checkpoint, second], clips, 2 * first_fold + 1, tmp_path / "more")
    # Folds that test different datasets (leave one dataset out) give one clip table each.
    paired = render_examples([checkpoint, second], [clips[clips.subject == "sub02"], clips], 1, tmp_path / "paired")
    assert [r["model"]["fold"] for r in paired] == ["sub02"]  # the first fold's table holds none of its test videos
    with pytest.raises(MolError, match="3 clip tables for 2 checkpoints"):
        render_examples([checkpoint, second], [clips] * 3, 1, tmp_path / "wrong")


@pytest.fixture(scope="module")
def video_file(small_videos, tmp_path_factory):
    """An MP4 of one synthetic video (lossy, as users' recordings are)."""
    frames = [cv2.imread(f) for f in small_videos.frames.iloc[0]]
    path = tmp_path_factory.mktemp("video") / "recording.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def run(capsys, *args):
    code = predict_main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_video_file_and_frame_folder(checkpoint, video_file, small_videos, tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, f in enumerate(small_videos.frames.iloc[1]):
        cv2.imwrite(str(folder / f"frame{k}.png"), cv2.imread(f))
    out = tmp_path / "predictions.json"
    code, _, err = run(capsys, "--checkpoint", checkpoint, video_file, folder, "--out", out, "--visualize", tmp_path / "vis")
    assert code == 0, err
    results = json.loads(out.read_text())
    names = torch.load(checkpoint, weights_only=False)["class_names"]
    assert [r["input"] for r in results] == [str(video_file), str(folder)]
    for result in results:
        assert list(result["video"]["probabilities"]) == names
        assert sum(result["video"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert result["video"]["predicted"] in names and len(result["clips"]) == 2  # 8 frames, t=4
        for clip in result["clips"]:
            assert sum(clip["probabilities"].values()) == pytest.approx(1.0, abs=1e-5) and len(clip["frames"]) == T
        assert result["model"]["class_names"] == names and result["model"]["frames"] == T
        assert result["model"]["sampling"] == SMALL_SAMPLING.name and result["model"]["preprocess"]["size"] == 144
        png = cv2.imread(result["visualization"]["png"])
        panel, tile, legend = 30 + 18 + 22 * len(names), CAPTION + 256, 64 + 8
        assert png.shape == (panel + (T - 1) * tile + legend, 3 * 256, 3)
        band = png[panel : panel + CAPTION]  # the first row's captions: black text on white, above the pictures
        assert (band == 255).mean() > 0.8 and band.min() < 80
        wheel = png[-legend + 4 : -4, 8 : 8 + 64].astype(int)
        assert (wheel.max(-1) - wheel.min(-1)).max() > 200  # the legend's colour wheel is there, in full colour
        video = cv2.VideoCapture(result["visualization"]["mp4"])
        frames = 0
        while True:
            ok, frame = video.read()
            if not ok:
                break
            assert frame.shape == (CAPTION + 256, 768, 3)
            frames += 1
        assert frames == T - 1


def test_predictor_gives_typed_results_with_the_arrays_to_draw(checkpoint, small_videos, tmp_path):
    from mol_core import Predictor

    predictor = Predictor.from_checkpoint(checkpoint, device="cpu", cache_dir=tmp_path / "cache")
    names = tuple(torch.load(checkpoint, weights_only=False)["class_names"])
    frames = list(small_videos.frames.iloc[2])
    result = predictor.predict(frames)  # a list of frame files
    assert isinstance(result, mol_core.VideoPrediction) and result.class_names == names == predictor.class_names
    assert result.frames_total == len(frames) and result.frames_used == (0, len(frames) - 1) and len(result.clips) == 2
    mean_logits = torch.tensor(np.mean([clip.logits for clip in result.clips], 0))
    expected = torch.softmax(mean_logits, 0).numpy()
    assert list(result.probabilities) == list(names)
    assert np.allclose(list(result.probabilities.values()), expected, atol=1e-6)
    assert result.predicted == names[int(expected.argmax())]
    for clip in result.clips:
        assert len(clip.frames) == T and clip.logits.shape == (len(names),)
        assert np.allclose(list(clip.probabilities.values()), torch.softmax(torch.tensor(clip.logits), 0).numpy(), atol=1e-6)
        assert clip.predicted == names[int(clip.logits.argmax())]
        assert clip.crops.shape == (T, 128, 128) and clip.crops.dtype == np.uint8
        assert clip.tvl1.shape == clip.flow.shape == (T - 1, 2, 128, 128) and clip.landmarks.shape == (T - 1, 68, 2)
    assert result.most_confident_clip.confidence == max(c.confidence for c in result.clips)
    same = predictor.predict(Path(frames[0]).parent, onset=1, offset=6)  # its folder, first and last frames cut
    assert same.frames_used == (1, 6) and [c.frames for c in same.clips] == [(1, 2, 3, 4)]  # 6 frames: one clip
    assert result.to_dict()["video"] == {"probabilities": result.probabilities, "predicted": result.predicted}
    assert [c["frames"] for c in result.to_dict()["clips"]] == [[0, 2, 4, 6], [1, 3, 5, 7]]


def test_predictor_refuses_a_pretraining_checkpoint():
    model = MOL(1, frames=T, mer_head=False, flow_width=0.0625)
    checkpoint = Checkpoint(model.state_dict(), {"mer_head": False, "flow_width": 0.0625}, 1, T, ("unlabelled",))
    with pytest.raises(CheckpointError, match="a pre-training checkpoint .no MER head. cannot classify videos"):
        mol_core.Predictor(checkpoint, "cpu")


def test_import_mol_core_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, mol_core; light = 'torch' not in sys.modules and 'cv2' not in sys.modules; "
        "from mol_core import Predictor; import mol_core.predict as p; print(light, Predictor is p.Predictor)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


def test_one_failed_input_does_not_lose_the_others(checkpoint, video_file, tmp_path, capsys):
    blank = tmp_path / "blank"
    blank.mkdir()
    for k in range(6):
        cv2.imwrite(str(blank / f"{k}.png"), np.full((120, 100), 128, np.uint8))
    out = tmp_path / "predictions.json"
    code, _, err = run(capsys, "--checkpoint", checkpoint, blank, video_file, "--out", out)
    assert code == 1
    assert f"error: {blank}: no face found in any of the 6 frames" in err
    assert f"1 of 2 inputs failed ({blank})" in err
    (written,) = json.loads(out.read_text())
    assert written["input"] == str(video_file) and len(written["clips"]) == 2


def test_onset_offset_select_frames(checkpoint, video_file, capsys):
    code, out, err = run(capsys, "--checkpoint", checkpoint, video_file, "--onset", 2, "--offset", 5)
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["frames_used"] == [2, 5] and [c["frames"] for c in result["clips"]] == [[2, 3, 4, 5]]


def test_clear_errors(checkpoint, video_file, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    code, _, err = run(capsys, "--checkpoint", checkpoint, broken)
    assert code == 1 and "broken.mp4: OpenCV cannot open this video" in err
    blank = tmp_path / "blank"
    blank.mkdir()
    for k in range(6):
        cv2.imwrite(str(blank / f"{k}.png"), np.full((120, 100), 128, np.uint8))
    code, _, err = run(capsys, "--checkpoint", checkpoint, blank)
    assert code == 1 and "no face found in any of the 6 frames" in err
    code, _, err = run(capsys, "--checkpoint", checkpoint, video_file, "--onset", 0, "--offset", 2)
    assert code == 1 and "only 3 frames, fewer than the clip length t=4" in err and "uniform_t4" in err
    old = torch.load(checkpoint, weights_only=False)
    old["version"] = "0.0.1"
    torch.save(old, tmp_path / "old.pt")
    code, _, err = run(capsys, "--checkpoint", tmp_path / "old.pt", video_file)
    assert code == 1 and "incompatible with this version" in err
    torch.save({"weights": 1}, tmp_path / "other.pt")
    code, _, err = run(capsys, "--checkpoint", tmp_path / "other.pt", video_file)
    assert code == 1 and "not a mol_core checkpoint" in err
    code, _, err = run(capsys, "--checkpoint", checkpoint, tmp_path / "absent.mp4")
    assert code == 1 and "no such video file or folder" in err


def test_flow_colour_wheel():
    flow = np.zeros((2, 3, 3))
    flow[:, 1, 1] = (1.0, 0.0)  # right
    flow[:, 0, 0] = (-1.0, 0.0)  # left
    flow[:, 2, 2] = (0.0, 1.0)  # down
    image = flow_to_colour(flow)
    assert tuple(image[0, 1]) == (255, 255, 255)  # no motion is white
    assert tuple(image[1, 1]) != tuple(image[0, 0]) != tuple(image[2, 2])
    b, g, r = (int(c) for c in image[1, 1])
    assert r == 255 and g < 60  # rightwards: red (Middlebury coding; BGR here)
    b, g, r = (int(c) for c in image[0, 0])
    assert r < 60 and g > 150 and b > 150  # leftwards: cyan
