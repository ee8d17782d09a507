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

CASME2_HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                 "Estimated Emotion"]
SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


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


def write_casme2(root: Path, videos: list[dict], cropped: bool = False, csv: bool = False, with_frames: bool = True) -> Path:
    """videos: dicts with subject (int), video, onset, apex, offset, emotion."""
    rows = [[v["subject"], v["video"], None, v["onset"], v["apex"], v["offset"], None, "4", v["emotion"]] for v in videos]
    root.mkdir(parents=True, exist_ok=True)
    if csv:
        pd.DataFrame(rows, columns=[c or "" for c in CASME2_HEADER]).to_csv(root / "CASME2-coding-20140508.csv", index=False)
    else:
        write_excel(root / "CASME2-coding-20140508.xlsx", [CASME2_HEADER] + rows)
    folder, prefix = ("Cropped", "reg_img") if cropped else ("CASME2_RAW_selected", "img")
    if with_frames:
        for v in videos:
            touch_frames(root / folder / f"sub{v['subject']:02d}" / v["video"],
                         [f"{prefix}{n}.jpg" for n in range(v["onset"], v["offset"] + 1)])
    return root


def write_samm(root: Path, videos: list[dict]) -> Path:
    """videos: dicts with subject (int), video, onset, apex, offset, emotion."""
    title = [["SAMM Micro-Movement FACS Codes"], [], ["Version 2"]] + [[f"note {i}"] for i in range(9)]
    rows = [[v["subject"], v["video"], "2", v["onset"], v["apex"], v["offset"], v["offset"] - v["onset"], "Micro",
             "12", v["emotion"], "1", None] for v in videos]
    write_excel(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [SAMM_HEADER] + rows, title_rows=title)
    for v in videos:
        subject = f"{v['subject']:03d}"
        touch_frames(root / subject / v["video"], [f"{subject}_{n:05d}.jpg" for n in range(v["onset"], v["offset"] + 1)])
    return root


def write_smic(root: Path, videos: list[dict], frames: int = 3) -> Path:
    """videos: dicts with subject (int), video, emotion; frames image000101.bmp, ..."""
    for v in videos:
        touch_frames(root / "HS" / f"s{v['subject']}" / "micro" / v["emotion"] / v["video"],
                     [f"image{100 + n:06d}.bmp" for n in range(1, frames + 1)])
    return root


def _spread(emotions: list[str], subjects: list[int]) -> list[tuple[int, str]]:
    return [(subjects[i % len(subjects)], e) for i, e in enumerate(emotions)]


def casme2_distribution() -> list[dict]:
    """255 videos of 26 subjects with CASME II's emotions; 24 subjects have MEGC classes;
    the two disgust clips MEGC leaves out are sub04/EP12_01f and sub05/EP09_05f."""
    megc = ["disgust"] * 61 + ["happiness"] * 32 + ["repression"] * 27 + ["surprise"] * 25
    rest = ["others"] * 99 + ["sadness"] * 7 + ["fear"] * 2
    pairs = [(4, "disgust"), (5, "disgust")] + _spread(megc, list(range(1, 25))) + _spread(rest, list(range(1, 27)))
    videos, count = [], {}
    for i, (subject, emotion) in enumerate(pairs):
        count[subject] = count.get(subject, 0) + 1
        name = {0: "EP12_01f", 1: "EP09_05f"}.get(i, f"EP{count[subject]:02d}_{i:03d}")
        videos.append({"subject": subject, "video": name, "onset": 10, "apex": 11, "offset": 12, "emotion": emotion})
    return videos


def samm_distribution() -> list[dict]:
    """159 videos of 29 subjects with SAMM's emotions; 28 subjects have MEGC classes."""
    megc = (["Anger"] * 57 + ["Contempt"] * 12 + ["Disgust"] * 9 + ["Fear"] * 8 + ["Happiness"] * 26
            + ["Sadness"] * 6 + ["Surprise"] * 15)
    subjects = list(range(6, 38))[:29]
    pairs = _spread(megc, subjects[:28]) + _spread(["Other"] * 26, subjects[::-1])
    return [{"subject": s, "video": f"{s:03d}_{i}_1", "onset": 5000 + i, "apex": 5001 + i, "offset": 5003 + i, "emotion": e}
            for i, (s, e) in enumerate(pairs)]


def smic_distribution() -> list[dict]:
    """164 videos of 16 subjects: 70 negative, 51 positive, 43 surprise."""
    subjects = [1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20]
    emotions = ["negative"] * 70 + ["positive"] * 51 + ["surprise"] * 43
    return [{"subject": s, "video": f"s{s}_{e[:2]}_{i:03d}", "emotion": e} for i, (s, e) in enumerate(_spread(emotions, subjects))]
