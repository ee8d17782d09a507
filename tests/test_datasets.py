"""The synthetic loader and the video table, including its error paths."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from mol_core.datasets import class_names, load, table_to_records
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.errors import DataError, MolError
from mol_core.synthetic.layout import CODING_FILE

from .conftest import CLEAN


def test_records_hold_onset_to_offset_frames_and_labels(clean_dataset):
    records = load("synthetic", clean_dataset)
    assert len(records) == 10
    names = class_names("synthetic", 5)
    assert names == ["happiness", "disgust", "repression", "surprise", "others"]
    coding = pd.read_csv(clean_dataset / CODING_FILE, dtype={"Subject": str}).set_index(["Subject", "Filename"])
    for r in records:
        row = coding.loc[(r.subject, r.video)]
        assert (r.onset, r.apex, r.offset) == (row.OnsetFrame, row.ApexFrame, row.OffsetFrame)
        assert [int(f.rsplit("img", 1)[1][:-4]) for f in r.frames] == list(range(r.onset, r.offset + 1))
        assert names[r.label] == r.emotion == row["Estimated Emotion"]
        assert len(r.frames) == CLEAN.frames


def test_three_class_protocol_maps_and_drops(clean_dataset):
    records = load("synthetic", clean_dataset, classes=3)
    assert class_names("synthetic", 3) == ["negative", "positive", "surprise"]
    assert {r.emotion for r in records} == {"happiness", "disgust", "repression", "surprise"}  # others dropped
    assert {r.emotion: r.label for r in records} == {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}


def test_video_table_round_trip(clean_dataset, tmp_path, capsys):
    out = tmp_path / "videos.parquet"
    assert datasets_main(["table", "synthetic", str(clean_dataset), "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert table_to_records(table) == load("synthetic", clean_dataset)
    assert "10 videos, 2 subjects" in capsys.readouterr().out


def test_errors_name_the_file_and_the_problem(clean_dataset, tmp_path):
    with pytest.raises(DataError, match="root not found"):
        load("synthetic", tmp_path / "nowhere")
    with pytest.raises(DataError, match="coding file not found"):
        load("synthetic", tmp_path)
    with pytest.raises(MolError, match="unknown dataset .no_such_dataset."):
        load("no_such_dataset", clean_dataset)
    with pytest.raises(MolError, match="no 4-class protocol"):
        load("synthetic", clean_dataset, classes=4)
    copy = tmp_path / "copy"
    shutil.copytree(clean_dataset, copy)
    coding = pd.read_csv(copy / CODING_FILE, dtype={"Subject": str})
    victim = next((copy / coding.Subject[0] / coding.Filename[0]).glob(f"img{coding.OnsetFrame[0] + 1}.png"))
    victim.unlink()
    with pytest.raises(DataError, match=rf"{coding.Subject[0]}/{coding.Filename[0]}: frame \d+ \(1 of 10\) missing"):
        load("synthetic", copy, strict=True)
    kept = {r.key for r in load("synthetic", copy)}  # the video is skipped, not the dataset
    assert len(kept) == len(coding) - 1 and f"{coding.Subject[0]}/{coding.Filename[0]}" not in kept
    coding.drop(columns=["OnsetFrame"]).to_csv(copy / CODING_FILE, index=False)
    with pytest.raises(DataError, match=r"unexpected columns: missing \['OnsetFrame'\]; found \['Subject', 'Filename'"):
        load("synthetic", copy)
