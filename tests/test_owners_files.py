"""The loaders on the dataset owners' real public files (opt-in: not shipped here, no licence
to copy). Each test builds a frame tree from one real file and runs ``check`` and ``load``:

- ``MOL_SAMM_CODING``: ``SAMM_Micro_FACS_Codes_v2.xlsx`` (either public copy);
- ``MOL_CASME2_CODING``: ``CASME2-coding-20140508.xlsx`` or ``CASME2-coding-20190701.xlsx``;
- ``MOL_MEGC2019_LIST``: the MEGC2019 composite list as a CSV of rows ``dataset, subject,
  video, label`` (``combined_3class_gt.csv`` in several public repositories), with the two above;
- ``MOL_CASME3_EXCEPTIONS``: the ``exception/`` folder of github jingtingEmmaLi/CAS-ME-3,
  held against the lists kept as data in facts.yaml.

CAS(ME)^3's coding file: ``MOL_CASME3_PART_A_CODING`` (tests/test_casme3.py).
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from mol_core.datasets import class_names, load
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.datasets.labels import dataset_facts

from .fake_datasets import touch_frames

SAMM = os.environ.get("MOL_SAMM_CODING")
CASME2 = os.environ.get("MOL_CASME2_CODING")
MEGC2019 = os.environ.get("MOL_MEGC2019_LIST")
CASME3_EXCEPTIONS = os.environ.get("MOL_CASME3_EXCEPTIONS")


def samm_tree(root: Path) -> Path:
    """The real SAMM file and, per row, frames spanning every frame number it writes."""
    raw = pd.read_excel(SAMM, header=None, dtype=str)
    header = next(i for i in range(len(raw)) if raw.iloc[i, 0] == "Subject")
    table = pd.read_excel(SAMM, header=header, dtype=str)
    for row in table.itertuples(index=False):
        subject, video, numbers = row[0], row[1], [int(row[i]) for i in (3, 4, 5)]
        touch_frames(root / subject / video, [f"{subject}_{n:05d}.jpg" for n in range(min(numbers), max(numbers) + 1)])
    shutil.copy(SAMM, root / Path(SAMM).name)
    return root


def casme2_tree(root: Path) -> Path:
    table = pd.read_excel(CASME2, dtype=str)
    for row in table.itertuples(index=False):
        touch_frames(
            root / "CASME2_RAW_selected" / f"sub{row.Subject}" / row.Filename,
            [f"img{n}.jpg" for n in range(int(row.OnsetFrame), int(row.OffsetFrame) + 1)],
        )
    shutil.copy(CASME2, root / Path(CASME2).name)
    return root


def megc2019_list() -> pd.DataFrame:
    """The published list, names as our loaders write them (SAMM '006', SMIC 's01_ne_01')."""
    table = pd.read_csv(MEGC2019, header=None, names=["dataset", "subject", "video", "label"], dtype=str)
    table.loc[table.dataset == "samm", "subject"] = [f"{int(s):03d}" for s in table.subject[table.dataset == "samm"]]
    table["label"] = table.label.astype(int)
    return table


@pytest.mark.skipif(not SAMM, reason="MOL_SAMM_CODING (the owners' SAMM_Micro_FACS_Codes_v2.xlsx) not set")
def test_samm_from_the_owners_file(tmp_path, capsys):
    root = samm_tree(tmp_path / "SAMM")
    assert datasets_main(["check", "samm", str(root)]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "samm (5 classes): 136 videos, 27 subjects" in out and "will be skipped: 0" in out and "problems (block a run): 0" in out
    for video in ("028/028_4_1", "032/032_3_1"):  # applied, or not needed in the other copy
        assert re.search(rf"{video} \(onset \d+ in the file\): (apex \d+ -> \d+ \(|erratum apex \d+ -> \d+ not needed)", out), video
    five, three = load("samm", root), load("samm", root, classes=3)
    assert all(r.onset <= r.apex <= r.offset for r in five + three)
    assert (len(three), len({r.subject for r in three})) == (133, 28)
    assert Counter(class_names("samm", 3)[r.label] for r in three) == {"negative": 92, "positive": 26, "surprise": 15}


@pytest.mark.skipif(not CASME2, reason="MOL_CASME2_CODING (the owners' CASME2-coding-*.xlsx) not set")
def test_casme2_from_the_owners_file(tmp_path, capsys):
    root = casme2_tree(tmp_path / "CASME2")
    assert datasets_main(["check", "casme2", str(root), "--classes", "3"]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "casme2 (3 classes): 145 videos, 24 subjects" in out and "classes: negative 88, positive 32, surprise 25" in out
    assert len(load("casme2", root)) == 246  # the paper's 5-class set


@pytest.mark.skipif(not (MEGC2019 and CASME2 and SAMM), reason="MOL_MEGC2019_LIST, MOL_CASME2_CODING and MOL_SAMM_CODING not all set")
def test_composite_equals_the_published_megc2019_list(tmp_path):
    published = megc2019_list()
    smic = tmp_path / "SMIC"
    for row in published[published.dataset == "smic"].itertuples():
        n = int(row.subject[1:])
        video = re.sub(r"^s0*(\d+)", rf"s{n}", row.video)  # the release's folders: s1/micro/negative/s1_ne_01
        touch_frames(smic / "HS" / f"s{n}" / "micro" / class_names("smic", 3)[row.label] / video, [f"image{k:06d}.bmp" for k in range(1, 4)])
    records = load("composite", {"casme2": casme2_tree(tmp_path / "CASME2"), "samm": samm_tree(tmp_path / "SAMM"), "smic": smic})

    def named(dataset: str, subject: str, video: str) -> tuple[str, str, str]:
        if dataset == "smic":  # the list pads SMIC's numbers: s01, s01_ne_01
            subject, video = f"s{int(subject[1:]):02d}", re.sub(r"^s(\d+)", lambda m: f"s{int(m[1]):02d}", video)
        return dataset, subject, video

    ours = {named(r.dataset, r.subject, r.video): r.label for r in records}
    theirs = {named(r.dataset, r.subject, r.video): r.label for r in published.itertuples()}
    assert ours == theirs
    assert len(ours) == 442 and Counter(ours.values()) == {0: 250, 1: 109, 2: 83}


def _ranges(numbers: set[int]) -> list[list[int]]:
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return spans


@pytest.mark.skipif(not CASME3_EXCEPTIONS, reason="MOL_CASME3_EXCEPTIONS (the owners' exception/ folder) not set")
def test_casme3_exception_lists_as_data_match_the_owners_files():
    folder = Path(CASME3_EXCEPTIONS)
    kept = dataset_facts("casme3")["exceptions"]
    damaged: dict[str, set[int]] = {}
    for line in (folder / "error_info_damaged_image_partA.txt").read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.match(r"(spNO\.\d+)\s+(\w)\s+(\d+)\.jpg", line.strip())
        if match:
            damaged.setdefault(f"{match[1]} {match[2]}", set()).add(int(match[3]))
    assert {k: _ranges(v) for k, v in damaged.items()} == kept["damaged_frames"]["frames"]
    bad: dict[str, set[int]] = {}
    for line in (folder / "image_with_bad_quality_partA.txt").read_text().splitlines():
        match = re.search(r"(spNO\.\d+)/(\w)/color/(\d+)\.jpg", line)
        if match:
            bad.setdefault(f"{match[1]} {match[2]}", set()).add(int(match[3]))
    assert sum(map(len, bad.values())) == 964 and {k: _ranges(v) for k, v in bad.items()} == kept["bad_quality_frames"]["frames"]
    errors = pd.read_excel(folder / "casme3_partA_error_list_ZhouJu.xlsx", dtype=str)
    occluded = errors[errors.iloc[:, 8].str.contains("遮盖", na=False)]  # "covered": the apex face occluded
    assert sorted([r.Subject, r.Filename, int(r.Onset)] for r in occluded.itertuples()) == sorted(kept["occluded_apex"]["rows"])
