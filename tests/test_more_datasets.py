"""CASME (I), MMEW and 4DME on fake trees in their owners' layouts, built from coding files
in the owners' formats (no public coding file exists for them)."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from mol_core.datasets import class_names, load
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.datasets.action_units import ActionUnit
from mol_core.errors import DataError

from .fake_datasets import write_casme, write_fourdme, write_mmew

CASME_EMOTIONS = ["disgust", "sadness", "surprise", "repression", "happiness", "tense", "fear", "contempt"]
CASME_VIDEOS = [
    {"subject": s, "video": f"EP{s:02d}_{i}", "onset": 10, "apex": 12, "offset": 15, "au": "4+R10", "emotion": CASME_EMOTIONS[(s + i) % 8]}
    for s in range(1, 20)
    for i in range(2)
]
MMEW_VIDEOS = [
    {"subject": s, "video": f"S{s:02d}-01-{i:03d}", "onset": 3, "apex": 5, "offset": 9, "au": "L12+6", "emotion": e}
    for s in (1, 2, 3)
    for i, e in enumerate(["happiness", "others", "disgust", "surprise"])
]
FOURDME_VIDEOS = [
    {"subject": "S01", "video": "S01_001", "onset": 20, "apex": 24, "offset": 30, "au": "AU4+AU7(k)", "emotion": "Negative"},
    {"subject": "S01", "video": "S01_002", "onset": 5, "apex": 9, "offset": 12, "au": "AU12", "emotion": "Positive"},
    {"subject": "S02", "video": "S02_001", "onset": 8, "apex": 10, "offset": 11, "au": "AU1+AU2", "emotion": "Surprise+Positive"},
    {"subject": "S02", "video": "S02_002", "onset": 8, "apex": 10, "offset": 11, "au": "AU1+AU2", "emotion": "Surprise"},
    {"subject": "S03", "video": "S03_001", "onset": 1, "apex": 2, "offset": 4, "au": "AU14", "emotion": "Repression"},
    {"subject": "S03", "video": "S03_002", "onset": 1, "apex": 2, "offset": 4, "au": "AU10", "emotion": "Others"},
]


def test_casme_reads_both_sections_and_their_frame_names(tmp_path, capsys):
    root = write_casme(tmp_path / "CASME", CASME_VIDEOS)
    records = {r.key: r for r in load("casme", root)}
    assert len(records) == 38 and len({r.subject for r in records.values()}) == 19
    assert Counter(r.emotion for r in records.values()) == {
        "disgust": 4,
        "sadness": 5,
        "surprise": 6,
        "repression": 6,
        "happiness": 5,
        "tense": 4,
        "fear": 4,
        "contempt": 4,
    }
    assert records["sub01/EP01_0"].frames[0].endswith("sub01/EP01_0/EP01_0-10.jpg")  # Section A: unpadded
    assert records["sub08/EP08_1"].frames[-1].endswith("sub08/EP08_1/EP08_1-015.jpg")  # Section B: padded to 3
    assert records["sub08/EP08_1"].action_units == (ActionUnit(4), ActionUnit(10, side="R"))
    three = load("casme", root, classes=3)
    assert class_names("casme", 3) == class_names("composite", 3)
    assert Counter(class_names("casme", 3)[r.label] for r in three) == {"negative": 17, "positive": 5, "surprise": 6}
    assert datasets_main(["check", "casme", str(root), "--classes", "4"]) == 0
    out = capsys.readouterr().out
    assert "casme (4 classes): 38 videos, 19 subjects" in out
    assert "classes: negative 17, positive 5, surprise 6, others 10" in out
    assert f"coding file: {root / 'Section A.xlsx'}" in out and f"coding file: {root / 'Section B.xlsx'}" in out
    assert len(load("casme", root, coding=root / "Section A.xlsx")) == 14  # one section given: only it


def test_casme_needs_both_sections_and_says_what_it_expected(tmp_path):
    root = write_casme(tmp_path / "CASME", CASME_VIDEOS[:4])
    (root / "Section B.xlsx").unlink()
    with pytest.raises(DataError, match="CASME Section B coding file not found: looked for Section B.xls or Section B.xlsx"):
        load("casme", root)
    with pytest.raises(DataError, match=r"no subject folders sub01, sub02, ... in .*: expected sub\{XX\}/\{Filename\}/"):
        load("casme", tmp_path / "CASME" / "sub01")


def test_mmew_frames_in_emotion_folders_others_in_repression(tmp_path, capsys):
    root = write_mmew(tmp_path / "MMEW", MMEW_VIDEOS)
    records = {r.key: r for r in load("mmew", root)}
    assert len(records) == 12 and {r.subject for r in records.values()} == {"S01", "S02", "S03"}
    others = records["S02/S02-01-001"]
    assert others.emotion == "others" and others.frames[0].endswith("Micro_Expression/repression/S02-01-001/3.jpg")
    assert len(others.frames) == 7 and others.au_numbers == {6, 12}
    four = load("mmew", root, classes=4)
    assert Counter(class_names("mmew", 4)[r.label] for r in four) == {"negative": 3, "positive": 3, "surprise": 3, "others": 3}
    assert len(load("mmew", root, classes=3)) == 9
    shutil.rmtree(root / "Micro_Expression" / "repression")
    assert datasets_main(["check", "mmew", str(root), "--strict"]) == 1  # 3 videos skipped; the rest load
    out = capsys.readouterr().out
    assert "mmew (7 classes): 9 videos, 3 subjects" in out and "S01/S01-01-001: frame folder not found" in out
    assert "will be skipped: 3 (strict" in out
    assert "frames: " + str(root / "Micro_Expression") + "/{emotion folder}/{Filename}/{n}.jpg" in out


def test_fourdme_mixed_emotions_uncertain_aus_and_frame_numbers_from_names(tmp_path, capsys):
    root = write_fourdme(tmp_path / "4DME", FOURDME_VIDEOS)
    records = {r.key: r for r in load("fourdme", root)}
    assert set(records) == {"S01/S01_001", "S01/S01_002", "S02/S02_002", "S03/S03_001", "S03/S03_002"}
    negative = records["S01/S01_001"]
    assert negative.action_units == (ActionUnit(4), ActionUnit(7, uncertain=True)) and negative.au_numbers == {4, 7}
    assert negative.frames[0].endswith("gray_micro/S01/S01_001/img20.jpg") and len(negative.frames) == 11
    assert class_names("fourdme", 3) == class_names("composite", 3)
    assert len(load("fourdme", root, classes=3)) == 3
    assert datasets_main(["check", "fourdme", str(root)]) == 0
    out = capsys.readouterr().out
    assert "classes: negative 1, positive 1, surprise 1, repression 1, others 1" in out
    assert "left out by the protocol: mixed emotions 1" in out


def test_fourdme_unknown_emotion_and_frames_beyond_the_folder(tmp_path, capsys):
    videos = [dict(FOURDME_VIDEOS[0], emotion="Happy"), dict(FOURDME_VIDEOS[1])]
    root = write_fourdme(tmp_path / "4DME", videos)
    (root / "gray_micro/S01/S01_002/img12.jpg").unlink()
    assert datasets_main(["check", "fourdme", str(root)]) == 0  # both skipped, listed
    out = capsys.readouterr().out
    assert "will be skipped: 2 (the run goes on without them" in out
    assert "S01/S01_001: unknown emotion 'happy' (known: negative, others, positive, repression, surprise)" in out
    assert "S01/S01_002: frame 12 (1 of 8) missing; frame files present: 5..11" in out
