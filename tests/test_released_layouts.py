"""Frame layouts of the owners' other releases, as they document them, detected without
configuration; and the doubtful annotations of the owners' files (CAS(ME)^3's exception
lists, an apex at the onset, overlong MEs) flagged and excluded on request."""

from __future__ import annotations

import shutil

import pytest

from mol_core.datasets import load, scan
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.errors import MolError

from .fake_datasets import (
    AFFWILD2_ANNOTATIONS,
    AFFWILD2_FACES,
    smic_distribution,
    write_affwild2,
    write_casme,
    write_casme3,
    write_mmew,
    write_smic,
)

CASME_VIDEOS = [
    {"subject": s, "video": f"EP{s:02d}_{i}", "onset": 10, "apex": 12, "offset": 15, "au": "4", "emotion": "disgust"}
    for s in (1, 9)
    for i in range(2)
]
MMEW_VIDEOS = [
    {"subject": s, "video": f"S{s:02d}-01-{i:03d}", "onset": 3, "apex": 5, "offset": 9, "au": "L12+6", "emotion": e}
    for s in (1, 2, 3)
    for i, e in enumerate(["happiness", "others", "disgust", "surprise"])
]


def test_smic_cropped_release_and_a_video_with_a_frame_gap(tmp_path, capsys):
    """``SMIC_all_cropped/HS/s{N}/micro/{class}/{video}/reg_image{6 digits}.bmp``; a gap in one
    video's frame numbers skips that video."""
    root = write_smic(tmp_path / "raw", smic_distribution()[:6], frames=4)
    cropped = tmp_path / "SMIC" / "SMIC_all_cropped"
    shutil.copytree(root / "HS", cropped / "HS")
    for frame in cropped.rglob("image*.bmp"):
        frame.rename(frame.with_name(f"reg_{frame.name}"))
    gap = sorted(cropped.rglob("reg_image000102.bmp"))[0]
    gap.unlink()
    records = load("smic", tmp_path / "SMIC")
    assert len(records) == 5 and records[0].frames[0].endswith("reg_image000101.bmp") and len(records[0].frames) == 4
    assert gap.parent.name not in {r.video for r in records}
    assert datasets_main(["check", "smic", str(tmp_path / "SMIC")]) == 0
    out = capsys.readouterr().out
    assert f"frames: {cropped / 'HS'}/s{{N}}/micro/" in out
    assert f"{gap.parent.name}: frame numbers have gaps: frame 102 absent of 101..104" in out


def test_casme_cropped_frames(tmp_path):
    root = write_casme(tmp_path / "CASME", CASME_VIDEOS[:4])
    for frame in root.rglob("*.jpg"):
        frame.rename(frame.with_name(f"reg_{frame.name}"))
    records = load("casme", root)
    assert len(records) == 4 and records[0].frames[0].endswith("sub01/EP01_0/reg_EP01_0-10.jpg") and len(records[0].frames) == 6


def test_mmew_subject_folder_first_as_the_owners_document_it(tmp_path, capsys):
    """``S03/happiness/S03-01-002/1.jpg`` beside the emotion-first copy: same records."""
    root = write_mmew(tmp_path / "MMEW", MMEW_VIDEOS)
    emotion_first = {r.key: len(r.frames) for r in load("mmew", root)}
    frames = root / "Micro_Expression"
    for video in sorted(frames.glob("*/*")):
        target = frames / video.name[:3] / video.parent.name / video.name
        target.parent.mkdir(parents=True, exist_ok=True)
        video.rename(target)
    for emptied in [p for p in frames.iterdir() if not p.name.startswith("S")]:
        emptied.rmdir()
    assert {r.key: len(r.frames) for r in load("mmew", root)} == emotion_first and len(emotion_first) == 12
    assert datasets_main(["check", "mmew", str(root)]) == 0
    assert f"frames: {frames}/{{Subject}}/{{emotion folder}}/{{Filename}}/{{n}}.jpg (subject folder first" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("crops", "second"),
    [
        ("cropped_aligned_images/cropped_aligned", "cropped_aligned_images/cropped_aligned_new_50_vids"),  # the later releases
        ("cropped_aligned/cropped_aligned", "cropped_aligned_new_50_vids"),  # doubly nested: never the video files instead
    ],
)
def test_affwild2_later_releases(tmp_path, crops, second):
    """``EXPR_Recognition_Challenge``, frames under ``cropped_aligned_images/cropped_aligned``
    or doubly nested, a second crop folder ``cropped_aligned_new_50_vids``."""
    faces = [dict(face, source="crops") for face in AFFWILD2_FACES]
    root = write_affwild2(tmp_path / "Aff-Wild2", faces)
    expected = {r.video: len(r.frames) for r in load("affwild2", root)}
    later = root / "ABAW5" / "EXPR_Recognition_Challenge"
    later.parent.mkdir()
    (root / AFFWILD2_ANNOTATIONS).rename(later)
    shutil.rmtree(root / AFFWILD2_ANNOTATIONS.split("/")[0])
    moved = root / "cropped_aligned"
    (root / "tmp").mkdir()
    moved.rename(root / "tmp" / "all")
    (root / crops).parent.mkdir(parents=True, exist_ok=True)
    (root / "tmp" / "all").rename(root / crops)
    second = root / second
    second.mkdir(parents=True, exist_ok=True)
    (root / crops / "video3").rename(second / "video3")
    result = scan("affwild2", root)
    assert {r.video: len(r.frames) for r in result.records} == expected
    assert all("cropped_aligned" in r.frames[0] and "::" not in r.frames[0] for r in result.records)
    assert any(str(second) in layout for layout in result.frame_layouts)


def test_casme3_subject_folders_spelled_spno(tmp_path):
    videos = [{"subject": "spNO.1", "video": "a", "onset": 355, "apex": 359, "offset": 360, "au": "5", "emotion": "others"}]
    for layout, folder in (("full", "part_A/spNO.1"), ("clip", "Part_A_ME_clip/frame/spNO.1_a_355")):
        root = write_casme3(tmp_path / layout, videos, layout=layout)
        (root / folder).rename(root / folder.replace("spNO.", "spNo."))
        (record,) = load("casme3", root)
        assert record.key == "spNO.1/a_355" and "spNo.1" in record.frames[0] and len(record.frames) == 6


CASME3_DOUBTFUL = [
    {"subject": "spNO.2", "video": "e", "onset": 138, "apex": 143, "offset": 148, "au": "1", "emotion": "surprise"},  # occluded apex
    {"subject": "spNO.3", "video": "J", "onset": 480, "apex": 500, "offset": 510, "au": "4", "emotion": "disgust"},  # damaged 498-576
    {"subject": "spNO.161", "video": "c", "onset": 40, "apex": 45, "offset": 60, "au": "4", "emotion": "disgust"},  # bad quality 7-52
    {"subject": "spNO.190", "video": "m", "onset": 8, "apex": 8, "offset": 737, "au": "1", "emotion": "anger"},  # apex at onset, overlong
    {"subject": "spNO.5", "video": "a", "onset": 10, "apex": 14, "offset": 20, "au": "12", "emotion": "happy"},  # clean
]


def test_casme3_owners_exception_lists_apex_at_onset_and_overlong_mes(tmp_path, capsys):
    root = write_casme3(tmp_path / "CASME3", CASME3_DOUBTFUL)
    result = scan("casme3", root)
    flags = {key: sorted(flag.kind for flag in found) for key, found in result.flags.items()}
    assert flags == {
        "spNO.2/e_138": ["occluded_apex"],
        "spNO.3/J_480": ["bad_quality_frames", "damaged_frames"],
        "spNO.161/c_40": ["bad_quality_frames"],
        "spNO.190/m_8": ["apex_at_onset", "overlong"],
    }
    assert len(result.records) == 5  # flagged, loaded as coded
    assert datasets_main(["check", "casme3", str(root)]) == 0
    out = capsys.readouterr().out
    assert "doubtful annotations (loaded as coded; --exclude KIND leaves them out): " in out
    assert "spNO.3/J_480: 13 of its 31 frames listed, frames 498..510 (owners' list exception/error_info_damaged_image_partA.txt" in out
    assert "spNO.190/m_8: 730 frames = 24.3 s at 30 fps, kept as coded" in out
    assert "spNO.2/e_138: owners' error list exception/casme3_partA_error_list_ZhouJu.xlsx: apex face occluded" in out
    kept = load("casme3", root, exclude=["occluded_apex", "damaged_frames"])
    assert {r.key for r in kept} == {"spNO.161/c_40", "spNO.190/m_8", "spNO.5/a_10"}
    excluded = scan("casme3", root, exclude=["overlong"])
    assert [str(s) for s in excluded.skipped] == ["spNO.190/m_8: excluded as asked: overlong: 730 frames = 24.3 s at 30 fps, kept as coded"]
    with pytest.raises(MolError, match="unknown exclusion \\['occluded'\\]"):
        load("casme3", root, exclude=["occluded"])
