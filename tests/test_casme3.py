"""CAS(ME)^3 part A on fake trees in the owners' two frame layouts, built from a coding file
in the owners' format (with the real file's erroneous rows), and on the owners' real file
when ``MOL_CASME3_PART_A_CODING`` points at it (``annotation/partA/cas(me)3_part_A_ME_label_
JpgIndex_v2.xlsx`` of github jingtingEmmaLi/CAS-ME-3; not shipped here: no licence to copy)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from mol_core.datasets import class_names, load, records_to_table
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.datasets.action_units import ActionUnit
from mol_core.errors import DataError

from .fake_datasets import CASME3_ERRATA, casme3_distribution, touch_frames, write_casme3

CODING = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
REAL_CODING = os.environ.get("MOL_CASME3_PART_A_CODING")
SEVEN = {"disgust": 250, "surprise": 187, "others": 161, "fear": 86, "anger": 64, "sad": 57, "happy": 55}


@pytest.fixture(scope="module")
def full_release(tmp_path_factory):
    return write_casme3(tmp_path_factory.mktemp("casme3") / "CASME3", casme3_distribution())


def test_part_a_in_seven_four_and_three_classes(full_release):
    seven = load("casme3", full_release)
    assert class_names("casme3") == list(SEVEN)
    assert Counter(r.emotion for r in seven) == SEVEN  # the 3 'Others' rows are others
    assert len({r.subject for r in seven}) == 94 and len(seven) == 860
    four = load("casme3", full_release, classes=4)
    names = class_names("casme3", 4)
    assert Counter(names[r.label] for r in four) == {"negative": 457, "positive": 55, "surprise": 187, "others": 161}
    three = load("casme3", full_release, classes=3)
    assert class_names("casme3", 3) == class_names("composite", 3)
    assert len(three) == 699 and Counter(class_names("casme3", 3)[r.label] for r in three) == {"negative": 457, "positive": 55, "surprise": 187}


def test_video_ids_are_unique_per_me_and_frames_follow_the_full_release(full_release):
    records = load("casme3", full_release)
    assert records_to_table(records).duplicated(["subject", "video"]).sum() == 0
    first = {r.video: r for r in records if r.subject == "spNO.1"}
    assert {"a_3020", "a_3040"} <= set(first)  # two MEs of stimulus video a
    me = first["a_3020"]
    assert (me.onset, me.apex, me.offset, len(me.frames)) == (3020, 3023, 3026, 7)
    assert me.frames[0].endswith("part_A/spNO.1/a/color/3020.jpg")
    assert me.emotion == "disgust" and me.action_units == (ActionUnit(4), ActionUnit(12, side="R"))
    upper = next(r for r in records if r.subject == "spNO.14" and r.video.startswith("J_"))
    assert "/spNO.14/J/color/" in upper.frames[0]


def test_known_errors_are_corrected_and_listed_with_their_source(full_release, capsys):
    records = {r.key: r for r in load("casme3", full_release)}
    assert records["spNO.149/d_112"].apex == 160
    assert "spNO.216/d_2647" in records and "spNO.216/d_3647" not in records
    assert [records[k].offset for k in ("spNO.40/e_1812", "spNO.40/e_2327")] == [1845, 2403]
    assert len(records["spNO.214/c_5"].frames) == 3456  # overlong, kept as coded (flagged)
    fixed = records["spNO.216/e_1"]
    assert (fixed.onset, fixed.apex, fixed.offset) == (1, 1, 25) and fixed.frames[0].endswith("/color/1.jpg")
    assert datasets_main(["check", "casme3", str(full_release)]) == 0
    out = capsys.readouterr().out
    assert "casme3 (7 classes): 860 videos, 94 subjects" in out
    assert "corrections of the coding file applied: 6" in out
    assert (
        "spNO.149/d (onset 112 in the file): apex 83 -> 160 (owners' full annotation CAS(ME)3_part_A_v2.xls, sheet AU+Emotion (MEB uses 123))"
    ) in out
    assert "spNO.214/c_5: 3456 frames = 115.2 s at 30 fps, kept as coded" in out  # flagged, not guessed
    assert "spNO.216/e (onset 0 in the file): onset 0 -> 1 (owners' error list exception/casme3_partA_error_list_ZhouJu.xlsx" in out
    assert "action units (videos): AU1 605, AU2 605, AU4 250, AU12 249, AU14 3, AU17 1, AU18 1, AU28 1, AU38 1" in out
    assert f"coding file: {full_release / CODING}" in out


def test_me_clip_release_and_case_of_the_stimulus_letter(tmp_path):
    videos = [
        {"subject": "spNO.1", "video": "a", "onset": 355, "apex": 359, "offset": 360, "au": "5", "emotion": "others"},
        {"subject": "spNO.14", "video": "J", "onset": 40, "apex": 44, "offset": 50, "au": "L2", "emotion": "surprise"},
    ]
    root = write_casme3(tmp_path, videos + CASME3_ERRATA[1:2], layout="clip")
    (root / "Part_A_ME_clip/frame/spNO.14_J_40").rename(root / "Part_A_ME_clip/frame/spNO.14_j_40")
    records = {r.key: r for r in load("casme3", root)}
    assert set(records) == {"spNO.1/a_355", "spNO.14/J_40", "spNO.216/d_2647"}
    assert records["spNO.1/a_355"].frames[-1].endswith("Part_A_ME_clip/frame/spNO.1_a_355/360.jpg")
    assert records["spNO.14/J_40"].frames[0].endswith("spNO.14_j_40/40.jpg")
    assert records["spNO.216/d_2647"].frames[0].endswith("spNO.216_d_3647/2647.jpg")  # folder named by the onset as written
    assert [r.key for r in load("casme3", root / "Part_A_ME_clip")] == [r.key for r in load("casme3", root)]


def test_missing_frames_errata_already_fixed_and_bad_trees(tmp_path, capsys):
    fixed_in_file = dict(CASME3_ERRATA[0], apex=160)  # a later file that has the owners' fix
    videos = [fixed_in_file, {"subject": "spNO.1", "video": "b", "onset": 166, "apex": 175, "offset": 179, "au": "4", "emotion": "disgust"}]
    root = write_casme3(tmp_path / "tree", videos)
    (root / "part_A/spNO.1/b/color/170.jpg").unlink()
    assert datasets_main(["check", "casme3", str(root)]) == 0  # the video is skipped, not the dataset
    out = capsys.readouterr().out
    assert [r.key for r in load("casme3", root)] == ["spNO.149/d_112"]
    assert "spNO.1/b_166: frame 170 (1 of 14) missing; frame files present: 166..179" in out
    assert "spNO.149/d (onset 112 in the file): erratum apex 83 -> 160 not needed, the file already has apex 160" in out
    assert "erratum for spNO.40/e onset 1812 not used: no such row in the coding file" in out
    assert "corrections of the coding file applied: 0" in out
    empty = tmp_path / "empty"
    shutil.copytree(root, empty, ignore=shutil.ignore_patterns("part_A"))
    with pytest.raises(
        DataError,
        match=r"no frames under .*empty: expected part_A/\{Subject\}/\{Filename\}/color/\{n\}.jpg "
        r"or Part_A_ME_clip/frame/\{Subject\}_\{Filename\}_\{Onset\}/\{n\}.jpg",
    ):
        load("casme3", empty)
    table = pd.read_excel(root / CODING, sheet_name="label", dtype=str).rename(columns={"emotion": "Emotion label"})
    with pd.ExcelWriter(root / CODING) as writer:
        table.to_excel(writer, sheet_name="label", index=False)
    with pytest.raises(DataError, match=r"unexpected columns: missing \['emotion'\]"):
        load("casme3", root)


@pytest.mark.skipif(not REAL_CODING, reason="MOL_CASME3_PART_A_CODING (the owners' real part A file) not set")
def test_the_owners_real_part_a_file(tmp_path, capsys):
    shutil.copy(REAL_CODING, tmp_path / CODING)
    table = pd.read_excel(tmp_path / CODING, sheet_name="label", dtype=object)
    assert all(isinstance(cell, str) for cell in table[["Onset", "Apex", "Offset"]].to_numpy().ravel())  # every cell text
    for row in table.itertuples():
        written = [int(row.Onset), int(row.Apex), int(row.Offset)]
        # frames around what is written: wide enough to hold every corrected ME
        touch_frames(
            Path(tmp_path, "part_A", row.Subject, row.Filename, "color"),
            [f"{n}.jpg" for n in range(max(1, min(written) - 25), max(written) + 46)],
        )
    assert datasets_main(["check", "casme3", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "casme3 (7 classes): 860 videos, 94 subjects" in out
    assert "classes: disgust 250, surprise 187, others 161, fear 86, anger 64, sad 57, happy 55" in out
    assert "corrections of the coding file applied: 6" in out and "notes:" not in out  # every AU string understood
    assert "will be skipped: 0" in out
    assert "apex_at_onset 55" in out and "occluded_apex 15" in out  # flagged, loaded as coded
    assert len(load("casme3", tmp_path, classes=3)) == 699
    assert len(load("casme3", tmp_path, exclude=["occluded_apex"])) == 845
