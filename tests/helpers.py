"""Helpers shared by the test modules (no test module imports another): the tiny workflow
config and running Snakemake on it; the modules a statement loads; the preprocessing and
clip-index commands run as the workflow runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import FACES, REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]

TINY = {
    "cache_dir": "cache",
    "synthetic": {"faces": str(FACES), "root": "data/synthetic", "subjects": 3, "videos_per_class": 1, "frames": 8, "pad_frames": 1, "seed": 1},
    "datasets": {"synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 5}},
    "sampling": {"frames": 4},
    "experiments": {
        "tiny": {
            "dataset": "synthetic",
            "model": {"flow_width": 0.125, "fusion": "subtract"},
            "train": {"steps": 2, "batch_size": 4, "lr": 0.001, "eval_every": 1},
        }
    },
    "threads": {"synthetic": 2, "preprocess": 1, "train": 1},
}


def snakemake(workdir: Path, *args: str) -> str:
    result = subprocess.run(SNAKEMAKE + ["--directory", str(workdir), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> count from a dry run's "Job stats" table."""
    table = output.split("Job stats:", 1)[1] if "Job stats:" in output else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def loaded_after(statement: str) -> set[str]:
    """Top-level names of the modules loaded by ``statement`` in a fresh interpreter."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def preprocess_subjects(videos: Path, cache: Path, markers: Path, settings: str = "{}", sampling: str = '{"frames": 4}') -> list[int]:
    """``python -m mol_core.preprocess`` once per subject of the table ``videos``, as the
    workflow runs it (stores under ``cache``, markers under ``markers/<subject>``); exit codes."""
    import pandas as pd

    from mol_core.preprocess.__main__ import main

    subjects = dict.fromkeys(pd.read_parquet(videos).subject)
    return [
        main(
            [
                "--videos",
                str(videos),
                "--subject",
                s,
                "--stores",
                str(cache),
                "--markers",
                str(markers / s),
                "--settings",
                settings,
                "--sampling",
                sampling,
            ]
        )
        for s in subjects
    ]


def index_clips(videos: Path, markers: Path, out: Path, skipped: Path, sampling: str = '{"frames": 4}', settings: str = "{}") -> int:
    """``python -m mol_core.clips`` on the markers ``preprocess_subjects`` wrote (with the
    preprocess ``settings`` and the ``sampling`` given to it); exit code."""
    from mol_core.clips.index import main

    command = ["--videos", str(videos), "--markers", str(markers), "--settings", settings, "--sampling", sampling]
    return main([*command, "--out", str(out), "--skipped", str(skipped)])


def small_truth(dataset: Path, row, store, pairs) -> dict:
    """The exact truth of one video of the SMALL synthetic set (``row`` of its video table)
    in its ``store``'s crops, for the store's flow ``pairs``."""
    from mol_core.store.zarr_store import stored_transforms
    from mol_core.synthetic.layout import load_ground_truth
    from mol_core.synthetic.truth import ground_truth_in_crop

    from .conftest import SMALL

    transforms = stored_transforms(store.attrs, SMALL.frames)
    return ground_truth_in_crop(load_ground_truth(dataset, row.subject, row.video), transforms, 144, SMALL.pad_frames, SMALL.frames, pairs)


# The console line of a preprocessing job (its rule's `message`): the subject it makes.
PREPROCESS_JOB = r"Job \d+: preprocess \S+ subject (\S+): aligned frames"


def markdown_rows(text: str) -> list[list[str]]:
    """Every row of the markdown tables in ``text`` (header rows too, not the alignment
    rows), each as its cells, stripped of the padding that lines the columns up."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]
            if not all(cell and set(cell) <= set(":-") for cell in cells):
                rows.append(cells)
    return rows


def markdown_row(text: str, first: str) -> list[str]:
    """The first row of a markdown table in ``text`` whose first cell is ``first``."""
    found = [row for row in markdown_rows(text) if row[0] == first]
    assert found, f"no table row {first!r} in:\n{text}"
    return found[0]


def plan_config(**changes) -> dict:
    """A validated-looking workflow config: one synthetic dataset, one LOSO experiment (the
    workflow plan's tests)."""
    base = {
        "cache_dir": "cache",
        "synthetic": {"root": "data/synthetic"},
        "datasets": {"synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 5}},
        "sampling": {"frames": 8, "scheme": "uniform"},
        "preprocess": {},
        "experiments": {
            "tiny": {
                "dataset": "synthetic",
                "protocol": "loso",
                "paper": "table4_casme2_5class",
                "model": {"flow_width": 0.125, "fusion": "subtract", "mer_head": True},
                "train": {"steps": 100, "batch_size": 8},
            }
        },
        "examples": 2,
    }
    base.update(changes)
    return base
