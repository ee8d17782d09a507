"""Aff-Wild2 on a fake tree in the owners' layout: small video files (mp4, avi) and
cropped_aligned frame folders, expression annotations with -1 frames, an `Other` class and a
two-person video (`_left`/`_right`)."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from mol_core.datasets import class_names, load, records_to_table, scan, table_to_records
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.datasets.affwild2 import Segment, read_annotation, segments
from mol_core.datasets.sources import coding_files
from mol_core.datasets.windows import WindowSettings, cut_windows
from mol_core.errors import DataError
from mol_core.util.video_io import read_gray_frames

from .conftest import FACES as FACES_DIR
from .fake_datasets import AFFWILD2_ANNOTATIONS, AFFWILD2_FACES, AFFWILD2_HEADER, affwild2_grey, write_affwild2, write_casme2
from .helpers import planned_jobs, snakemake, write_config

SEVEN = ["neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise"]
FACES = AFFWILD2_FACES
SEGMENTS = {  # key: (emotion, onset, offset, split)
    "1-30-640x360/1-30-640x360_1": ("neutral", 1, 10, "train"),
    "1-30-640x360/1-30-640x360_14": ("happiness", 14, 25, "train"),
    "1-30-640x360/1-30-640x360_26": ("surprise", 26, 34, "train"),
    "1-30-640x360/1-30-640x360_35": ("happiness", 35, 40, "train"),
    "7-25-1920x1080_left/7-25-1920x1080_left_6": ("anger", 6, 13, "validation"),
    "7-25-1920x1080_left/7-25-1920x1080_left_16": ("anger", 16, 20, "validation"),
    "7-25-1920x1080_right/7-25-1920x1080_right_1": ("disgust", 1, 6, "validation"),
    "7-25-1920x1080_right/7-25-1920x1080_right_7": ("fear", 7, 10, "validation"),
    "7-25-1920x1080_right/7-25-1920x1080_right_15": ("sadness", 15, 20, "validation"),
    "video3/video3_1": ("neutral", 1, 3, "train"),
    "video3/video3_5": ("neutral", 5, 6, "train"),
    "video3/video3_7": ("sadness", 7, 12, "train"),
    "video3/video3_18": ("sadness", 18, 21, "train"),
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_affwild2(tmp_path_factory.mktemp("affwild2") / "Aff-Wild2", FACES)


def test_one_record_per_labelled_segment_of_each_face(tree):
    records = load("affwild2", tree, classes=7)
    assert class_names("affwild2", 7) == class_names("affwild2") == SEVEN
    assert {r.key: (r.emotion, r.onset, r.offset, r.split) for r in records} == SEGMENTS
    assert all(r.apex is None and r.dataset == "affwild2" and SEVEN[r.label] == r.emotion for r in records)
    assert all(len(r.frames) == r.offset - r.onset + 1 for r in records)
    assert {r.subject for r in records} == {f["name"] for f in FACES}
    assert Counter(r.split for r in records) == {"train": 8, "validation": 5}


def test_frames_of_video_files_and_of_cropped_aligned_folders(tree):
    records = {r.key: r for r in load("affwild2", tree)}
    happy = records["1-30-640x360/1-30-640x360_14"]
    assert happy.frames[0] == f"{tree}/videos/1-30-640x360.mp4::13" and happy.frames[-1].endswith(".mp4::24")
    grey = read_gray_frames(happy.frames)  # frame n of the annotation is frame n - 1 of the file
    assert grey.shape == (12, 32, 32)
    assert np.abs(grey.mean(axis=(1, 2)) - [affwild2_grey(k) for k in range(13, 25)]).max() < 4
    fear = records["7-25-1920x1080_right/7-25-1920x1080_right_7"]  # the _right face reads the video without the suffix
    assert fear.frames == [f"{tree}/videos/7-25-1920x1080.avi::{k}" for k in range(6, 10)]
    assert np.abs(read_gray_frames(fear.frames).mean(axis=(1, 2)) - [affwild2_grey(k) for k in range(6, 10)]).max() < 4
    crops = records["video3/video3_5"]
    assert crops.frames == [f"{tree}/cropped_aligned/video3/00005.jpg", f"{tree}/cropped_aligned/video3/00006.jpg"]
    assert "video3/video3_4" not in records  # frame 4 has no image: it splits the neutral run


def test_the_video_table_keeps_the_split(tree):
    records = load("affwild2", tree)
    table = records_to_table(records)
    assert table.duplicated(["subject", "video"]).sum() == 0
    assert table.set_index("video").split.to_dict()["7-25-1920x1080_left_6"] == "validation"
    assert table_to_records(table) == records
    assert table_to_records(table.drop(columns="split"))[0].split is None  # a table written before splits were kept


def test_check_counts_what_the_protocol_leaves_out(tree, capsys):
    assert datasets_main(["check", "affwild2", str(tree)]) == 0
    out = capsys.readouterr().out
    assert "affwild2 (7 classes): 13 videos, 4 subjects" in out
    assert "classes: neutral 3, anger 2, disgust 1, fear 1, happiness 2, sadness 3, surprise 1" in out
    assert ("left out by the protocol: frames labelled -1 (not annotated) 7, frames labelled other 12, segments labelled other 3") in out
    assert (
        "labelled frames per class: neutral 16, anger 13, disgust 6, fear 4, happiness 18, sadness 16, surprise 9; other 12 (left out)"
    ) in out
    assert (
        "labelled frames without an image in cropped_aligned (faces the owners did not detect; each splits its segment): 1 in 1 face: video3 1"
    ) in out
    assert ("segment lengths (frames): min 2, median 6, max 12, total 81; 9 of 13 segments are shorter than 8 frames") in out
    assert f"coding file: {tree / AFFWILD2_ANNOTATIONS / 'Train_Set'}" in out
    assert f"frames: {tree / 'cropped_aligned'}/{{name}}/{{frame:05d}}.jpg: 1 face\n" in out
    assert f"frames: video files under {tree} ({{video}}.mp4, .avi, ...; frame n = {{file}}::{{n-1}}): 3 faces" in out
    assert "problems (block a run): 0" in out


def test_annotation_folder_given_elsewhere(tree):
    """root: the video files only (cropped_aligned not used), annotations given as coding."""
    result = scan("affwild2", tree / "videos", coding=tree / AFFWILD2_ANNOTATIONS)
    assert {r.subject for r in result.records} == {"1-30-640x360", "7-25-1920x1080_left", "7-25-1920x1080_right"}
    assert [str(s) for s in result.skipped] == [
        "video3/video3: train: no frames: neither cropped_aligned/video3/ nor a video file video3.mp4 / .avi under the root"
    ]
    assert len(load("affwild2", tree, coding=tree / AFFWILD2_ANNOTATIONS / "Validation_Set")) == 5  # one split folder
    files = coding_files("affwild2", tree)
    assert len(files) == 4 and files[0] == str(tree / AFFWILD2_ANNOTATIONS / "Train_Set" / "1-30-640x360.txt")


def test_segments_are_maximal_runs():
    labels = np.array([-1, 0, 0, 4, 4, 4, -1, 4, 7])
    assert segments(labels) == [Segment(0, 2, 3), Segment(4, 4, 6), Segment(4, 8, 8), Segment(7, 9, 9)]
    present = np.array([True] * 4 + [False] + [True] * 4)
    assert segments(labels, present) == [Segment(0, 2, 3), Segment(4, 4, 4), Segment(4, 6, 6), Segment(4, 8, 8), Segment(7, 9, 9)]
    assert segments(np.array([], int)) == [] and segments(np.array([-1, -1])) == []


def test_an_annotation_file_with_a_byte_order_mark_and_crlf_lines(tmp_path):
    path = tmp_path / "7-25-1920x1080_left.txt"
    path.write_bytes(f"\ufeff{AFFWILD2_HEADER},Other\r\n0\r\n-1\r\n7\r\n\r\n".encode())
    annotation = read_annotation(path, "validation")
    assert annotation.name == "7-25-1920x1080_left" and annotation.classes == (*SEVEN, "other")
    assert annotation.labels.tolist() == [0, -1, 7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Neutral,Anger,Disgust\n0\n", "line 1 is 'Neutral,Anger,Disgust', not Aff-Wild2's expression classes"),
        (f"{AFFWILD2_HEADER}\n0\n1\nhappy\n", "line 4 is 'happy', not a label index"),
        (f"{AFFWILD2_HEADER}\n0\n\n1\n", "line 3 is '', not a label index"),
        (f"{AFFWILD2_HEADER}\n0\n7\n", r"line 3: label 7 outside -1..6 \(-1 and the 7 classes of line 1\)"),
        (f"{AFFWILD2_HEADER},Other\n-2\n", r"line 2: label -2 outside -1..7"),
        ("", "empty annotation file"),
    ],
)
def test_malformed_annotation_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=f"{path}: {message}"):
        read_annotation(path, "train")


def test_problems_of_a_tree_are_listed_by_check(tree, tmp_path, capsys):
    root = tmp_path / "bad"
    shutil.copytree(tree, root)
    train = root / AFFWILD2_ANNOTATIONS / "Train_Set"
    (train / "video3.txt").write_text(f"{AFFWILD2_HEADER}\n0\n0\n9\n")
    (train / "nowhere.txt").write_text(f"{AFFWILD2_HEADER}\n0\n")
    shutil.copy(train / "1-30-640x360.txt", root / AFFWILD2_ANNOTATIONS / "Validation_Set")
    assert datasets_main(["check", "affwild2", str(root), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "will be skipped: 3 (strict" in out
    assert f"{train / 'video3.txt'}: line 4: label 9 outside -1..6" in out
    assert "nowhere/nowhere: train: no frames: neither cropped_aligned/nowhere/ nor a video file nowhere.mp4 / .avi under the root" in out
    assert f"1-30-640x360: annotated in {train / '1-30-640x360.txt'} and in" in out
    with pytest.raises(DataError, match=r"affwild2 at .*: 3 problem\(s\)"):
        load("affwild2", root, strict=True)
    assert {r.subject for r in load("affwild2", root)} == {r.subject for r in load("affwild2", tree)} - {
        "video3"
    }  # the second file of a face is skipped
    with pytest.raises(DataError, match="Aff-Wild2: no annotation files under .*: expected EXPR_Classification_Challenge"):
        load("affwild2", root / "videos")


def test_labels_past_the_end_of_a_video_file_are_left_out(tmp_path, capsys):
    faces = [{"name": "short", "split": "train", "labels": [1] * 6 + [2] * 6}]
    root = write_affwild2(tmp_path / "Aff-Wild2", faces, video_frames={"short": 9})
    assert [(r.emotion, r.onset, r.offset) for r in load("affwild2", root)] == [("anger", 1, 6), ("disgust", 7, 9)]
    assert datasets_main(["check", "affwild2", str(root)]) == 0
    assert "labelled frames past the last frame of their video file (left out): 3 in 1 face: short 3" in capsys.readouterr().out


def test_workflow_plans_a_labelled_pretraining_then_fine_tuning(tree, tmp_path):
    """Dry run of the paper's order on tiny sizes: one preprocessing job per subject (its segments' stores in it),
    one pre-training job (``--pretrain``, 7 classes), the fine-tuning's dataset beside it."""
    casme2 = write_casme2(
        tmp_path / "CASME2",
        [
            {"subject": 1, "video": "EP01_01", "onset": 10, "apex": 12, "offset": 17, "emotion": "happiness"},
            {"subject": 2, "video": "EP02_01", "onset": 5, "apex": 8, "offset": 12, "emotion": "disgust"},
        ],
    )
    config = {
        "cache_dir": "cache",
        "synthetic": {"faces": str(FACES_DIR), "root": "data/synthetic"},
        "datasets": {
            "affwild2": {"loader": "affwild2", "root": str(tree), "classes": 7},
            "casme2_5": {"loader": "casme2", "root": str(casme2), "classes": 5},
            "affwild2_windows": {"loader": "affwild2", "root": str(tree), "classes": 7, "windows": {"frames": 4, "per_subject": 2}},
        },
        "sampling": {"frames": 4},
        "experiments": {
            "pre": {
                "dataset": "affwild2",
                "protocol": "pretrain",
                "model": {"mer_head": True, "flow_width": 0.125},
                "train": {"steps": 2, "batch_size": 2, "eval_every": 1, "val_subjects": 1},
            },
            "fine": {
                "dataset": "casme2_5",
                "init": "pre",
                "model": {"flow_width": 0.125},
                "train": {"steps": 2, "batch_size": 2, "eval_every": 1, "val_subjects": 1},
            },
        },
        "run": ["fine"],
        "examples": 0,
        "threads": {"synthetic": 1, "preprocess": 1, "train": 1},
    }
    workdir = tmp_path / "work"
    workdir.mkdir()
    write_config(workdir, config)
    assert planned_jobs(snakemake(workdir, "-n")) == {
        "videos": 2,
        "clips": 2,
        "train": 1,
        "experiment_config": 1,
        "experiment_report": 1,
        "summary": 1,
        "all": 1,
    }  # the fine-tuning's folds wait for its clip index
    snakemake(workdir, "--cores", "2", *(f"results/{d}/videos.parquet" for d in ("affwild2", "casme2_5", "affwild2_windows")))
    videos = pd.read_parquet(workdir / "results/affwild2/videos.parquet")
    assert len(videos) == len(SEGMENTS) and videos.split.value_counts().to_dict() == {"train": 8, "validation": 5}
    windows = pd.read_parquet(workdir / "results/affwild2_windows/videos.parquet")  # the dataset's `windows` reach the table
    expected = cut_windows(load("affwild2", tree, classes=7), WindowSettings(frames=4, per_subject=2))
    assert windows.video.tolist() == [w.video for w in expected] and (windows.n_frames == 4).all()
    out = snakemake(workdir, "-n", "-p")
    plan = planned_jobs(out)
    # One preprocessing job per subject: an Aff-Wild2 video (one face of a two-person one), a CASME II subject.
    assert plan["preprocess"] == videos.subject.nunique() + 2 < len(SEGMENTS) and plan["clips"] == 2 and plan["train"] == 1, plan
    train = [line for line in out.splitlines() if "python -m mol_core.train" in line]
    assert len(train) == 1 and "--pretrain" in train[0] and "--fold all" in train[0] and "results/affwild2/clips.parquet" in train[0]
    assert '"neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise"' in train[0]
