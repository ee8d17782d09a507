"""Loaders of CASME II, SAMM, SMIC-HS and the MEGC2019 composite set, on fake copies of
their layouts written in the owners' formats."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

from mol_core.datasets import class_names, load, records_to_table, scan
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.errors import DataError, MolError

from .fake_datasets import SAMM_BAD_APEX, casme2_distribution, samm_distribution, smic_distribution, write_casme2, write_samm, write_smic

CASME2_FEW = [
    {"subject": 1, "video": "EP02_01f", "onset": 46, "apex": 59, "offset": 86, "emotion": "happiness"},
    {"subject": 1, "video": "EP03_02", "onset": 131, "apex": 139, "offset": 161, "emotion": "others"},
    {"subject": 2, "video": "EP09_01", "onset": 21, "apex": "/", "offset": 30, "emotion": "repression"},
    {"subject": 17, "video": "EP05_03", "onset": 5, "apex": 9, "offset": 12, "emotion": "fear"},
]


@pytest.fixture(scope="module")
def real_layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    return {
        "casme2": write_casme2(root / "CASME2", casme2_distribution()),
        "samm": write_samm(root / "SAMM", samm_distribution()),
        "smic": write_smic(root / "SMIC", smic_distribution()),
    }


def test_casme2_records_frames_and_missing_apex(tmp_path):
    root = write_casme2(tmp_path, CASME2_FEW)
    records = {r.video: r for r in load("casme2", root)}
    assert set(records) == {"EP02_01f", "EP03_02", "EP09_01"}  # fear is not a 5-class class
    happy = records["EP02_01f"]
    assert (happy.subject, happy.onset, happy.apex, happy.offset) == ("sub01", 46, 59, 86)
    assert happy.frames[0].endswith("CASME2_RAW_selected/sub01/EP02_01f/img46.jpg") and len(happy.frames) == 41
    assert records["EP09_01"].apex is None  # written '/' in the coding file
    assert class_names("casme2", 5)[happy.label] == "happiness"
    # root may also be the frames subfolder; the coding file is then found in its parent
    assert [r.video for r in load("casme2", root / "CASME2_RAW_selected")] == [r.video for r in load("casme2", root)]


def test_casme2_cropped_frames_and_csv_coding(tmp_path):
    root = write_casme2(tmp_path, CASME2_FEW[:1], cropped=True, csv=True)
    (record,) = load("casme2", root)
    assert record.frames[0].endswith("Cropped/sub01/EP02_01f/reg_img46.jpg")
    assert scan("casme2", root).frame_layouts == [
        f"{root / 'Cropped'}/sub{{NN}}/{{Filename}}/reg_img{{N}}.jpg (cropped) (found for 1 coded video)"
    ]


def test_casme2_reads_the_2019_coding_file_and_names_it(tmp_path, capsys):
    revised = [
        dict(v, emotion="surprise", au="R1+R2") if (v["subject"], v["video"]) == (17, "EP05_03") else v for v in CASME2_FEW
    ]  # the 2019 file revises AUs and turns some emotions into surprise
    root = write_casme2(tmp_path / "CASME2", revised, version="20190701")
    records = {r.video: r for r in load("casme2", root, classes=3)}
    assert set(records) == {"EP02_01f", "EP09_01", "EP05_03"}
    assert records["EP05_03"].emotion == "surprise" and records["EP05_03"].au_numbers == {1, 2}
    assert datasets_main(["check", "casme2", str(root)]) == 0
    assert f"coding file: {root / 'CASME2-coding-20190701.xlsx'}" in capsys.readouterr().out
    write_casme2(root, CASME2_FEW, with_frames=False)  # both files: the 2014 one (MEGC2019's) is read
    assert datasets_main(["check", "casme2", str(root)]) == 0
    assert f"coding file: {root / 'CASME2-coding-20140508.xlsx'}" in capsys.readouterr().out
    assert len(load("casme2", root, classes=3, coding=root / "CASME2-coding-20190701.xlsx")) == 3


def test_casme2_counts_of_both_protocols(real_layouts):
    five = load("casme2", real_layouts["casme2"])
    assert Counter(r.emotion for r in five) == {"others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25}
    assert len({r.subject for r in five}) == 26
    three = load("casme2", real_layouts["casme2"], classes=3)
    names = class_names("casme2", 3)
    assert Counter(names[r.label] for r in three) == {"negative": 88, "positive": 32, "surprise": 25}
    assert len({r.subject for r in three}) == 24
    assert not {("sub04", "EP12_01f"), ("sub05", "EP09_05f")} & {(r.subject, r.video) for r in three}


def test_samm_title_rows_subjects_and_frames(real_layouts):
    five = load("samm", real_layouts["samm"])
    assert Counter(r.emotion for r in five) == {"anger": 57, "happiness": 26, "other": 26, "surprise": 15, "contempt": 12}
    first = five[0]
    assert first.subject == "006" and first.video == "006_0_1"
    assert first.frames[0].endswith("006/006_0_1/006_05000.jpg") and len(first.frames) == 4
    three = load("samm", real_layouts["samm"], classes=3)
    names = class_names("samm", 3)
    assert Counter(names[r.label] for r in three) == {"negative": 92, "positive": 26, "surprise": 15}
    assert len({r.subject for r in three}) == 28 and len({r.subject for r in five}) == 27  # the owners' file's counts
    assert len(five) == 136 and len(three) == 133


def test_samm_loads_from_the_copy_of_the_v2_file_with_two_wrong_apex_cells(real_layouts, capsys):
    """028_4_1 (apex 1143 > offset 1134) and 032_3_1 (apex 1930 < onset 4896), as one public
    copy has them: corrected from the other copy, named by check; a file already right is
    left alone and check says the erratum is not needed."""
    records = {r.key: r for r in load("samm", real_layouts["samm"])}
    assert records["028/028_4_1"].apex == 1113 and records["032/032_3_1"].apex == 4930
    assert all(r.onset <= r.apex <= r.offset for r in records.values())
    assert datasets_main(["check", "samm", str(real_layouts["samm"])]) == 0
    out = capsys.readouterr().out
    assert "samm (5 classes): 136 videos, 27 subjects" in out and "corrections of the coding file applied: 2" in out
    assert "028/028_4_1 (onset 1071 in the file): apex 1143 -> 1113 (the other public copy of SAMM_Micro_FACS_Codes_v2.xlsx" in out
    assert "032/032_3_1 (onset 4896 in the file): apex 1930 -> 4930 (the other public copy" in out


def test_samm_copy_with_the_right_apex_cells_needs_no_erratum(tmp_path, capsys):
    right = [dict(v, apex={"028_4_1": 1113, "032_3_1": 4930}[v["video"]]) for v in SAMM_BAD_APEX]
    root = write_samm(tmp_path / "SAMM", right)
    assert [r.apex for r in load("samm", root)] == [1113, 4930]
    assert datasets_main(["check", "samm", str(root)]) == 0
    out = capsys.readouterr().out
    assert "corrections of the coding file applied: 0" in out
    assert "028/028_4_1 (onset 1071 in the file): erratum apex 1143 -> 1113 not needed, the file already has apex 1113" in out


def test_casme2_2019_file_keeps_the_megc2019_and_paper_sets(tmp_path, capsys):
    """The owners' 20190701 file turns three sadness rows of sub24 into surprise; every
    protocol follows the 2014 file (the MEGC2019 list, the paper's 246 videos), whichever is read."""
    root = write_casme2(tmp_path / "CASME2", casme2_distribution("20190701"), version="20190701")
    three = load("casme2", root, classes=3)
    assert len(three) == 145 and len({r.subject for r in three}) == 24
    assert not {"sub24/EP07_01", "sub24/EP07_04f", "sub24/EP10_03"} & {r.key for r in three}
    assert len(load("casme2", root)) == 246
    assert datasets_main(["check", "casme2", str(root), "--classes", "3"]) == 0
    out = capsys.readouterr().out
    assert "classes: negative 88, positive 32, surprise 25" in out and "corrections of the coding file applied: 3" in out
    assert "sub24/EP07_01 (onset 24 in the file): emotion surprise -> sadness (protocols follow CASME2-coding-20140508" in out
    old = write_casme2(tmp_path / "CASME2_2014", casme2_distribution())
    assert datasets_main(["check", "casme2", str(old)]) == 0
    out = capsys.readouterr().out
    assert "corrections of the coding file applied: 0" in out
    assert "sub24/EP10_03 (onset 334 in the file): erratum emotion surprise -> sadness not needed, the file already has emotion sadness" in out
    assert "sub05/EP09_05f: apex = onset = frame 10" in out  # doubtful, flagged


def test_composite_from_the_2019_casme2_file_is_megc2019(real_layouts, tmp_path):
    roots = dict(real_layouts, casme2=write_casme2(tmp_path / "CASME2", casme2_distribution("20190701"), version="20190701"))
    records = load("composite", roots)
    assert len(records) == 442 and len({r.subject for r in records}) == 68
    assert Counter(class_names("composite")[r.label] for r in records) == {"negative": 250, "positive": 109, "surprise": 83}


def test_smic_labels_from_folders(real_layouts):
    records = load("smic", real_layouts["smic"])
    assert Counter(r.emotion for r in records) == {"negative": 70, "positive": 51, "surprise": 43}
    assert len({r.subject for r in records}) == 16 and "s01" in {r.subject for r in records}
    r = records[0]
    assert (r.onset, r.apex, r.offset, len(r.frames)) == (101, None, 103, 3)
    assert r.frames[0].endswith("image000101.bmp")
    assert len(load("smic", real_layouts["smic"] / "HS")) == 164  # root may be HS itself


def test_composite_is_megc2019(real_layouts):
    records = load("composite", real_layouts)
    names = class_names("composite")
    assert names == ["negative", "positive", "surprise"]
    assert len(records) == 442
    assert Counter(names[r.label] for r in records) == {"negative": 250, "positive": 109, "surprise": 83}
    assert len({(r.dataset, r.subject) for r in records}) == 68 == len({r.subject for r in records})
    assert Counter(r.dataset for r in records) == {"casme2": 145, "samm": 133, "smic": 164}
    per_source = {d: len({r.subject for r in records if r.dataset == d}) for d in ("casme2", "samm", "smic")}
    assert per_source == {"casme2": 24, "samm": 28, "smic": 16}
    assert records_to_table(records).duplicated(["subject", "video"]).sum() == 0


def test_a_video_with_a_problem_is_skipped_not_the_dataset(tmp_path, capsys):
    videos = [
        {"subject": 1, "video": "EP01_01", "onset": 10, "apex": 12, "offset": 14, "emotion": "happiness"},
        {"subject": 1, "video": "EP01_02", "onset": 30, "apex": 25, "offset": 20, "emotion": "disgust"},  # onset > offset
        {"subject": 2, "video": "EP02_01", "onset": 1, "apex": 2, "offset": 3, "emotion": "hapiness"},  # typo
        {"subject": 2, "video": "EP02_02", "onset": 1, "apex": 2, "offset": 3, "emotion": "surprise"},
        {"subject": 3, "video": "EP03_01", "onset": 1, "apex": 2, "offset": 3, "emotion": "others"},
    ]
    root = write_casme2(tmp_path, videos)
    (root / "CASME2_RAW_selected/sub02/EP02_02/img3.jpg").unlink()  # beyond the files present
    import shutil

    shutil.rmtree(root / "CASME2_RAW_selected/sub03/EP03_01")  # no frame folder
    assert datasets_main(["check", "casme2", str(root)]) == 0  # each problem is a video's own
    out = capsys.readouterr().out
    assert "casme2 (5 classes): 1 video, 1 subject" in out
    assert "happiness 1, disgust 0" in out and "sub01 1" in out
    assert "will be skipped: 4 (the run goes on without them; --strict stops instead)" in out and "problems (block a run): 0" in out
    assert "sub01/EP01_02: onset 30 after offset 20" in out
    assert "sub02/EP02_01: unknown emotion 'hapiness'" in out
    assert "sub02/EP02_02: frame 3 (1 of 3) missing; frame files present: 1..2" in out
    assert "sub03/EP03_01: frame folder not found" in out
    assert [r.key for r in load("casme2", root)] == ["sub01/EP01_01"]  # every other video loads
    assert datasets_main(["check", "casme2", str(root), "--strict"]) == 1
    assert "will be skipped: 4 (strict: each stops the run)" in capsys.readouterr().out
    with pytest.raises(DataError, match="4 problem"):
        load("casme2", root, strict=True)
    out_table = tmp_path / "videos.parquet"
    assert datasets_main(["table", "casme2", str(root), "--out", str(out_table)]) == 0
    assert "skipped sub02/EP02_02: frame 3 (1 of 3) missing" in capsys.readouterr().out
    skipped = pd.read_parquet(out_table).attrs["skipped"]  # the workflow's skipped.csv reads them
    assert [(s["subject"], s["video"]) for s in skipped] == [
        ("sub01", "EP01_02"),
        ("sub02", "EP02_01"),
        ("sub02", "EP02_02"),
        ("sub03", "EP03_01"),
    ]
    assert datasets_main(["table", "casme2", str(root), "--out", str(tmp_path / "strict.parquet"), "--strict"]) == 1
    assert "4 problem(s)" in capsys.readouterr().err and not (tmp_path / "strict.parquet").exists()


def test_check_of_a_clean_dataset_and_the_composite(real_layouts, capsys):
    assert datasets_main(["check", "samm", str(real_layouts["samm"]), "--classes", "3"]) == 0
    out = capsys.readouterr().out
    assert "samm (3 classes): 133 videos, 28 subjects" in out
    assert "negative 92, positive 26, surprise 15" in out and "other 26" in out and "problems (block a run): 0" in out
    roots = json.dumps({k: str(v) for k, v in real_layouts.items()})
    assert datasets_main(["check", "composite", roots]) == 0
    out = capsys.readouterr().out
    assert "composite (3 classes): 442 videos, 68 subjects" in out
    assert "casme2 145 videos / 24 subjects" in out


def test_bad_inputs_name_the_file(tmp_path, real_layouts):
    with pytest.raises(DataError, match="CASME II root not found"):
        load("casme2", tmp_path / "nowhere")
    with pytest.raises(DataError, match="SAMM coding file not found: looked for SAMM_Micro_FACS_Codes_v2.xlsx"):
        load("samm", tmp_path)
    bad = tmp_path / "bad"
    write_casme2(bad, CASME2_FEW[:1], csv=True)
    table = pd.read_csv(bad / "CASME2-coding-20140508.csv").rename(columns={"Estimated Emotion": "Emotion"})
    table.to_csv(bad / "CASME2-coding-20140508.csv", index=False)
    with pytest.raises(
        DataError,
        match=r"CASME2-coding-20140508.csv: unexpected columns: missing \['Estimated Emotion'\]; "
        r"found \['Subject', 'Filename', .*'Emotion'\]",
    ):
        load("casme2", bad)
    with pytest.raises(MolError, match="dataset 'smic' has no 5-class protocol; available: \\[3\\]"):
        load("smic", real_layouts["smic"], classes=5)
    with pytest.raises(DataError, match="composite needs root"):
        load("composite", {"casme2": str(real_layouts["casme2"])})
    with pytest.raises(DataError, match="no subject folders"):
        load("smic", tmp_path)
    odd = write_smic(tmp_path / "odd", [{"subject": 1, "video": "s1_ha_01", "emotion": "happy"}])
    with pytest.raises(DataError, match="s01/s1_ha_01: unknown emotion folder 'happy'"):
        load("smic", odd)
    assert datasets_main(["check", "casme2", str(tmp_path / "nowhere")]) == 1


def test_loso_warnings_name_folds_that_train_alike_and_splits_too_small_to_select_on(real_layouts, capsys):
    from mol_core.datasets.folds import SMALL_VALIDATION_VIDEOS, loso_warnings, split_subjects

    videos = {f"s{i}": 4 for i in range(5)}
    same, small = loso_warnings(videos, 1)
    named = same.split("twice: ")[1].split(";")[0].split(" and ")
    trained = {tuple(split_subjects(list(videos), fold, 1, 0)[0]) for fold in named}
    assert len(named) == 2 and len(trained) == 1  # the two folds named do train on the same subjects
    assert "5 of 5 folds validate on fewer than 10 videos" in small and "val_subjects: 3 gives every fold at least 10" in small
    assert SMALL_VALIDATION_VIDEOS == 10 and loso_warnings(videos, 3) == [w for w in loso_warnings(videos, 3) if "fewer than" not in w]
    assert loso_warnings({"a": 9, "b": 9}, 1) == []  # two subjects: nothing to warn about
    assert datasets_main(["check", "samm", str(real_layouts["samm"]), "--classes", "3", "--val-subjects", "1"]) == 0  # warnings block nothing
    out = capsys.readouterr().out
    assert "warnings for a LOSO run with val_subjects 1: " in out and "too few to select a step on" in out
