"""Small fake copies of the real datasets' layouts, written in the owners' formats.

Frame files are one tiny valid image each (the loaders look at names, ``check`` at headers
and end markers); coding files are real .xlsx files
(SAMM's with its title rows) or CSV. The ``*_distribution`` helpers give coding tables with
the real class distributions of each dataset (reference notes), for the composite test.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

CASME2_HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion"]
SAMM_HEADER = [
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset Frame",
    "Apex Frame",
    "Offset Frame",
    "Duration",
    "Micro",
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
    "Notes",
]


@cache
def tiny_image(suffix: str) -> bytes:
    """A valid 8x8 colour image encoded as ``suffix`` (.jpg, .png, .bmp)."""
    import cv2
    import numpy as np

    ok, data = cv2.imencode(suffix, np.full((8, 8, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


def touch_frames(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(tiny_image(Path(name).suffix))


def write_excel(path: Path, rows: list[list], title_rows: list[list] = ()) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in list(title_rows) + rows:
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def write_casme2(
    root: Path, videos: list[dict], cropped: bool = False, csv: bool = False, with_frames: bool = True, version: str = "20140508"
) -> Path:
    """videos: dicts with subject (int), video, onset, apex, offset, emotion, optional au
    (default '4'); ``version``: the date in the coding file's name (20140508 or 20190701)."""
    rows = [[v["subject"], v["video"], None, v["onset"], v["apex"], v["offset"], None, v.get("au", "4"), v["emotion"]] for v in videos]
    root.mkdir(parents=True, exist_ok=True)
    if csv:
        pd.DataFrame(rows, columns=[c or "" for c in CASME2_HEADER]).to_csv(root / f"CASME2-coding-{version}.csv", index=False)
    else:
        write_excel(root / f"CASME2-coding-{version}.xlsx", [CASME2_HEADER] + rows)
    folder, prefix = ("Cropped", "reg_img") if cropped else ("CASME2_RAW_selected", "img")
    if with_frames:
        for v in videos:
            touch_frames(root / folder / f"sub{v['subject']:02d}" / v["video"], [f"{prefix}{n}.jpg" for n in range(v["onset"], v["offset"] + 1)])
    return root


def write_samm(root: Path, videos: list[dict]) -> Path:
    """videos: dicts with subject (int), video, onset, apex, offset, emotion, optional au (default '12')."""
    title = [["SAMM Micro-Movement FACS Codes"], [], ["Version 2"]] + [[f"note {i}"] for i in range(9)]
    rows = [
        [
            v["subject"],
            v["video"],
            "2",
            v["onset"],
            v["apex"],
            v["offset"],
            v["offset"] - v["onset"],
            "Micro",
            v.get("au", "12"),
            v["emotion"],
            "1",
            None,
        ]
        for v in videos
    ]
    write_excel(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [SAMM_HEADER] + rows, title_rows=title)
    for v in videos:
        subject = f"{v['subject']:03d}"
        touch_frames(root / subject / v["video"], [f"{subject}_{n:05d}.jpg" for n in range(v["onset"], v["offset"] + 1)])
    return root


def write_smic(root: Path, videos: list[dict], frames: int = 3) -> Path:
    """videos: dicts with subject (int), video, emotion; frames image000101.bmp, ..."""
    for v in videos:
        touch_frames(
            root / "HS" / f"s{v['subject']}" / "micro" / v["emotion"] / v["video"], [f"image{100 + n:06d}.bmp" for n in range(1, frames + 1)]
        )
    return root


def _spread(emotions: list[str], subjects: list[int]) -> list[tuple[int, str]]:
    return [(subjects[i % len(subjects)], e) for i, e in enumerate(emotions)]


# Rows whose emotion the owners' 20190701 CASME II file revised from sadness to surprise.
CASME2_REVISED_2019 = [("EP07_01", 24, 41, 66), ("EP07_04f", 4, 24, 41), ("EP10_03", 334, 356, 376)]


def casme2_distribution(version: str = "20140508") -> list[dict]:
    """255 videos of 26 subjects with CASME II's emotions; 24 subjects have MEGC classes;
    the two disgust clips MEGC leaves out are sub04/EP12_01f and sub05/EP09_05f (apex coded
    at its onset, as in the owners' file). Three of the seven sadness rows are sub24's whose
    emotion the owners' 20190701 file revised to surprise (``version``)."""
    megc = ["disgust"] * 61 + ["happiness"] * 32 + ["repression"] * 27 + ["surprise"] * 25
    rest = ["others"] * 99 + ["sadness"] * 7 + ["fear"] * 2
    pairs = [(4, "disgust"), (5, "disgust")] + _spread(megc, list(range(1, 25))) + _spread(rest, list(range(1, 27)))
    videos, count = [], {}
    for i, (subject, emotion) in enumerate(pairs):
        count[subject] = count.get(subject, 0) + 1
        name = {0: "EP12_01f", 1: "EP09_05f"}.get(i, f"EP{count[subject]:02d}_{i:03d}")
        videos.append({"subject": subject, "video": name, "onset": 10, "apex": 10 if i == 1 else 11, "offset": 12, "emotion": emotion})
    sadness = [v for v in videos if v["emotion"] == "sadness"]
    for video, (name, onset, apex, offset) in zip(sadness, CASME2_REVISED_2019, strict=False):
        emotion = "surprise" if version == "20190701" else "sadness"
        video.update(subject=24, video=name, onset=onset, apex=apex, offset=offset, emotion=emotion)
    return videos


# SAMM's 29 subjects; in this fake 024 and 036 have only disgust and 012 only 'Other', so the
# 5-class set has 27 subjects and the 3-class set 28, as in the owners' file.
SAMM_SUBJECTS = [6, 7, *range(9, 27), 28, *range(30, 38)]
# The two apex cells one public copy of SAMM_Micro_FACS_Codes_v2.xlsx has wrong (the other: 1113, 4930).
SAMM_BAD_APEX = [
    {"subject": 28, "video": "028_4_1", "onset": 1071, "apex": 1143, "offset": 1134, "emotion": "Contempt"},
    {"subject": 32, "video": "032_3_1", "onset": 4896, "apex": 1930, "offset": 4970, "emotion": "Anger"},
]


def samm_distribution() -> list[dict]:
    """159 videos of 29 subjects with SAMM's emotions and the two wrong apex cells of one
    public copy of the v2 file; 5 classes: 136 videos / 27 subjects, 3 classes: 133 / 28."""
    main = [s for s in SAMM_SUBJECTS if s not in (12, 24, 36)]
    emotions = ["Anger"] * 56 + ["Contempt"] * 11 + ["Fear"] * 8 + ["Happiness"] * 26 + ["Sadness"] * 6 + ["Surprise"] * 15 + ["Other"] * 25
    pairs = _spread(emotions, main) + [(24, "Disgust")] * 5 + [(36, "Disgust")] * 4 + [(12, "Other")]
    videos = [
        {"subject": s, "video": f"{s:03d}_{i}_1", "onset": 5000 + i, "apex": 5001 + i, "offset": 5003 + i, "emotion": e}
        for i, (s, e) in enumerate(pairs)
    ]
    return videos + [dict(v) for v in SAMM_BAD_APEX]


def smic_distribution() -> list[dict]:
    """164 videos of 16 subjects: 70 negative, 51 positive, 43 surprise."""
    subjects = [1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20]
    emotions = ["negative"] * 70 + ["positive"] * 51 + ["surprise"] * 43
    return [{"subject": s, "video": f"s{s}_{e[:2]}_{i:03d}", "emotion": e} for i, (s, e) in enumerate(_spread(emotions, subjects))]


CASME3_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
CASME3_SUBJECTS = [
    *range(1, 16),
    17,
    *range(39, 43),
    77,
    *(n for n in range(138, 218) if n not in (140, 141, 151, 164, 191, 199, 205)),
]  # 94, as the real file
# The erroneous rows of the real v2 file, as written there, with the frames the ME really spans.
CASME3_ERRATA = [
    {"subject": "spNO.149", "video": "d", "onset": 112, "apex": 83, "offset": 358, "au": "T28+14", "emotion": "fear", "frames": (112, 358)},
    {"subject": "spNO.216", "video": "d", "onset": 3647, "apex": 2668, "offset": 2694, "au": "38", "emotion": "others", "frames": (2647, 2694)},
    {"subject": "spNO.40", "video": "e", "onset": 1812, "apex": 1824, "offset": 0, "au": "18", "emotion": "others", "frames": (1812, 1845)},
    {"subject": "spNO.40", "video": "e", "onset": 2327, "apex": 2363, "offset": 0, "au": "14", "emotion": "others", "frames": (2327, 2403)},
    {"subject": "spNO.214", "video": "c", "onset": 5, "apex": 5, "offset": 3460, "au": "17+4", "emotion": "disgust", "frames": (5, 3460)},
    {"subject": "spNO.216", "video": "e", "onset": 0, "apex": 0, "offset": 25, "au": "14", "emotion": "others", "frames": (1, 25)},
]


def write_casme3(root: Path, videos: list[dict], layout: str = "full", coding_name: str = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx") -> Path:
    """The owners' part A file (sheet ``label`` then two empty sheets, every cell text, rows
    sorted as text) and empty frames. videos: dicts with subject ('spNO.1'), video ('a'),
    onset, apex, offset, au, emotion, optional frames (first, last; default onset..offset).
    layout: 'full' (part_A/{Subject}/{Filename}/color/{n}.jpg) or 'clip'
    (Part_A_ME_clip/frame/{Subject}_{Filename}_{Onset}/{n}.jpg)."""
    from openpyxl import Workbook

    rows = sorted(
        (
            [str(v["subject"]), str(v["video"]), str(v["onset"]), str(v["apex"]), str(v["offset"]), str(v["au"]), "VII", str(v["emotion"])]
            for v in videos
        ),
        key=lambda row: row[:2],
    )
    book = Workbook()
    sheet = book.active
    sheet.title = "label"
    for row in [CASME3_HEADER] + rows:
        sheet.append(row)
    book.create_sheet("Sheet1")
    book.create_sheet("Sheet3")
    root.mkdir(parents=True, exist_ok=True)
    book.save(root / coding_name)
    for v in videos:
        first, last = v.get("frames", (v["onset"], v["offset"]))
        if layout == "full":
            folder = root / "part_A" / v["subject"] / v["video"] / "color"
        else:
            folder = root / "Part_A_ME_clip" / "frame" / f"{v['subject']}_{v['video']}_{v['onset']}"
        touch_frames(folder, [f"{n}.jpg" for n in range(first, last + 1)])
    return root


def casme3_distribution() -> list[dict]:
    """860 MEs of 94 subjects with part A's emotions (3 written 'Others'), its erroneous rows,
    the upper-case stimulus video 'J' of spNO.14, and pairs of MEs sharing one video."""
    emotions = (
        ["disgust"] * 249
        + ["surprise"] * 187
        + ["others"] * 154
        + ["Others"] * 3
        + ["fear"] * 85
        + ["anger"] * 64
        + ["sad"] * 57
        + ["happy"] * 55
    )  # plus the errata rows: 1 disgust, 4 others, 1 fear
    videos, count = list(CASME3_ERRATA), {}
    for i, emotion in enumerate(emotions):
        subject = CASME3_SUBJECTS[i % len(CASME3_SUBJECTS)]
        j = count[subject] = count.get(subject, 0) + 1
        letter = "abcdefghijklm"[(j - 1) // 2 % 13]
        letter = "J" if (subject, j) == (14, 1) else letter  # the real file's one upper-case Filename
        onset = 3000 + 20 * j
        videos.append(
            {
                "subject": f"spNO.{subject}",
                "video": letter,
                "onset": onset,
                "apex": onset + 3,
                "offset": onset + 6,
                "au": "4+R12" if emotion == "disgust" else "1+2",
                "emotion": emotion,
            }
        )
    return videos


CASME_HEADER = ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "AU", "Emotion"]
MMEW_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion", "remarks"]
FOURDME_HEADER = ["sub_ID", "fold_name", "Emotion", "Onset", "Apex", "Offset", "AUs", "AU1", "AU4", "AU12"]


def write_casme(root: Path, videos: list[dict]) -> Path:
    """Both owners' section files (subjects 1-7 in Section A, 8-19 in Section B; sheet Sheet1)
    and frames sub{XX}/{Filename}/{Filename}-{j}.jpg (j padded to 3 in Section B).
    videos: dicts with subject (int), video, onset, apex, offset, au, emotion."""
    from openpyxl import Workbook

    for section, subjects in (("Section A", range(1, 8)), ("Section B", range(8, 20))):
        book = Workbook()
        sheet = book.active
        sheet.title = "Sheet1"
        sheet.append(CASME_HEADER)
        for v in (v for v in videos if v["subject"] in subjects):
            sheet.append([v["subject"], v["video"], None, v["onset"], v["apex"], None, v["offset"], None, v["au"], v["emotion"]])
        root.mkdir(parents=True, exist_ok=True)
        book.save(root / f"{section}.xlsx")
    for v in videos:
        padded = v["subject"] >= 8
        touch_frames(
            root / f"sub{v['subject']:02d}" / v["video"],
            [f"{v['video']}-{n:03d}.jpg" if padded else f"{v['video']}-{n}.jpg" for n in range(v["onset"], v["offset"] + 1)],
        )
    return root


def write_mmew(root: Path, videos: list[dict], folders: dict[str, str] | None = None) -> Path:
    """MMEW_Micro_Exp.xlsx and frames Micro_Expression/{emotion folder}/{Filename}/{n}.jpg;
    ``folders``: {emotion: folder} where the folder is not the emotion's name (others: repression).
    videos: dicts with subject (int), video, onset, apex, offset, au, emotion."""
    folders = {"others": "repression"} if folders is None else folders
    rows = [[v["subject"], v["video"], v["onset"], v["apex"], v["offset"], v["au"], v["emotion"], None] for v in videos]
    write_excel(root / "MMEW_Micro_Exp.xlsx", [MMEW_HEADER] + rows)
    for v in videos:
        touch_frames(
            root / "Micro_Expression" / folders.get(v["emotion"], v["emotion"]) / v["video"], [f"{n}.jpg" for n in range(1, v["offset"] + 3)]
        )
    return root


def write_fourdme(root: Path, videos: list[dict]) -> Path:
    """4DME_Labelling_Micro_release v1.xlsx (one-hot AU columns after AUs) and frames
    gray_micro/{sub_ID}/{fold_name}/img{n}.jpg. videos: dicts with subject ('S01'), video,
    onset, apex, offset, au, emotion."""
    rows = [[v["subject"], v["video"], v["emotion"], v["onset"], v["apex"], v["offset"], v["au"], 0, 0, 0] for v in videos]
    write_excel(root / "4DME_Labelling_Micro_release v1.xlsx", [FOURDME_HEADER] + rows)
    for v in videos:
        touch_frames(root / "gray_micro" / v["subject"] / v["video"], [f"img{n}.jpg" for n in range(v["onset"], v["offset"] + 1)])
    return root


AFFWILD2_ANNOTATIONS = "Third ABAW Annotations/EXPR_Classification_Challenge"
AFFWILD2_SPLITS = {"train": "Train_Set", "validation": "Validation_Set"}
AFFWILD2_HEADER = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise"


def affwild2_grey(k: int) -> int:
    """The grey level of frame k (from 0) of a fake Aff-Wild2 video file."""
    return 20 + 10 * (k % 22)


def write_video_file(path: Path, n_frames: int, size: int = 32) -> None:
    """A small video file (mp4v for .mp4, MJPG otherwise) whose frame k is flat grey
    ``affwild2_grey(k)``."""
    import cv2
    import numpy as np

    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix == ".mp4" else "MJPG"))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), fourcc, 30, (size, size))
    for k in range(n_frames):
        writer.write(np.full((size, size, 3), affwild2_grey(k), np.uint8))
    writer.release()


def write_affwild2(root: Path, faces: list[dict], video_frames: dict[str, int] | None = None) -> Path:
    """The owners' layout: annotation files ``Third ABAW Annotations/EXPR_Classification_Challenge/
    {Train_Set,Validation_Set}/{name}.txt``, video files ``videos/{video}{suffix}`` and frame
    folders ``cropped_aligned/{name}/{n:05d}.jpg``. faces: dicts with name (``_left``/``_right``
    for a face of a two-person video), split (train, validation), labels (one per frame, -1
    left out), optional other (the header with Other), source (``video``, the default, or
    ``crops``), missing (frame numbers without a crop), suffix (.mp4, the default, or .avi).
    A video file has as many frames as its longest annotation, or ``video_frames[video]``."""
    lengths: dict[tuple[str, str], int] = {}
    for face in faces:
        folder = root / AFFWILD2_ANNOTATIONS / AFFWILD2_SPLITS[face["split"]]
        folder.mkdir(parents=True, exist_ok=True)
        header = AFFWILD2_HEADER + (",Other" if face.get("other") else "")
        (folder / f"{face['name']}.txt").write_text("\n".join([header, *map(str, face["labels"])]) + "\n")
        if face.get("source", "video") == "crops":
            missing = set(face.get("missing", ()))
            touch_frames(
                root / "cropped_aligned" / face["name"], [f"{n:05d}.jpg" for n in range(1, len(face["labels"]) + 1) if n not in missing]
            )
        else:
            video = face["name"].removesuffix("_left").removesuffix("_right")
            key = (video, face.get("suffix", ".mp4"))
            lengths[key] = max(lengths.get(key, 0), len(face["labels"]))
    for (video, suffix), n_frames in lengths.items():
        write_video_file(root / "videos" / f"{video}{suffix}", (video_frames or {}).get(video, n_frames))
    return root


# Four faces: one mp4 video, two faces of one avi (_left, _right), one cropped_aligned folder
# with a frame missing; -1 frames, and `Other` in three of the headers (test_affwild2.py).
AFFWILD2_FACES = [
    # one person, mp4, 7-class header: neutral 1-10, -1 11-13, happiness 14-25, surprise 26-34, happiness 35-40
    {"name": "1-30-640x360", "split": "train", "labels": [0] * 10 + [-1] * 3 + [4] * 12 + [6] * 9 + [4] * 6},
    # two people in one avi, header with Other: other 1-5, anger 6-13, -1 14-15, anger 16-20
    {"name": "7-25-1920x1080_left", "split": "validation", "other": True, "suffix": ".avi", "labels": [7] * 5 + [1] * 8 + [-1] * 2 + [1] * 5},
    # disgust 1-6, fear 7-10, other 11-14, sadness 15-20
    {"name": "7-25-1920x1080_right", "split": "validation", "other": True, "suffix": ".avi", "labels": [2] * 6 + [3] * 4 + [7] * 4 + [5] * 6},
    # cropped_aligned frames, frame 4 without an image: neutral 1-3 and 5-6, sadness 7-12, -1 13-14, other 15-17, sadness 18-21
    {
        "name": "video3",
        "split": "train",
        "other": True,
        "source": "crops",
        "missing": [4],
        "labels": [0] * 6 + [5] * 6 + [-1] * 2 + [7] * 3 + [5] * 4,
    },
]
