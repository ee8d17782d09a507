"""Workflow runs of configurations that once failed (issue 15, item 7): folders with spaces in
their names, a `folder` dataset of video files, a run of only a pre-training."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import pandas as pd
import pytest

from mol_core.report import MetricsTable

from .conftest import FACES
from .helpers import SNAKEMAKE, markdown_row, planned_jobs, snakemake, write_config

CASES = {
    "cache_dir": "the cache",
    "synthetic": {
        "faces": str(FACES),
        "root": "data/syn thetic",
        "subjects": 1,
        "videos_per_class": 1,
        "frames": 8,
        "pad_frames": 1,
        "classes": ["happiness", "surprise"],
        "seed": 1,
    },
    "datasets": {
        "synthetic": {"loader": "synthetic", "root": "data/syn thetic", "classes": 5},
        "wild": {"loader": "folder", "root": "wild videos", "classes": 1},
    },
    "sampling": {"frames": 4},
    "experiments": {
        "pre": {
            "dataset": "wild",
            "protocol": "pretrain",
            "model": {"mer_head": False, "flow_width": 0.125},
            "train": {"steps": 2, "batch_size": 2, "lr": 0.001, "eval_every": 1, "val_subjects": 1},
        }
    },
    "run": ["pre"],
    "examples": 0,
    "threads": {"synthetic": 1, "preprocess": 1, "train": 1},
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("cases")
    write_config(workdir, CASES)
    return workdir


def test_synthetic_data_and_cache_in_folders_with_spaces(workdir):
    snakemake(workdir, "--cores", "2", "results/synthetic/clips.parquet")
    clips = pd.read_parquet(workdir / "results/synthetic/clips.parquet")
    assert clips.video.nunique() == 2 and all(" " in store for store in clips.store)
    assert (workdir / "data/syn thetic/coding.csv").is_file()


def write_video(frames: list[str], path: Path) -> None:
    first = cv2.imread(frames[0])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (first.shape[1], first.shape[0]))
    for frame in frames:
        writer.write(cv2.imread(frame))
    writer.release()


def test_pretraining_alone_on_a_folder_of_video_files(workdir):
    """The preprocessing jobs' inputs are the video files (not their ``file::index`` frame
    references), and a run of only a pre-training plans no summary."""
    videos = pd.read_parquet(workdir / "results/synthetic/videos.parquet")
    (workdir / "wild videos").mkdir()
    for row in videos.itertuples():
        write_video([str(workdir / f) for f in row.frames], workdir / "wild videos" / f"{row.video}.mp4")
    plan = planned_jobs(snakemake(workdir, "-n"))
    assert plan.get("train") == 1 and "summary" not in plan, plan
    snakemake(workdir, "--cores", "2")
    assert (workdir / "results/pre/folds/all/model.pt").is_file()
    assert not (workdir / "results/summary.md").exists()
    assert "Nothing to be done" in snakemake(workdir, "-n")


def test_the_report_lists_the_skipped_videos(workdir):
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text(errors="replace")
    assert "skipped.csv" in html


def test_a_refused_dataset_says_why_on_the_console(tmp_path):
    """The entry point's message reaches the console, not only the job's log (issue 15, item 8)."""
    (tmp_path / "empty").mkdir()
    write_config(tmp_path, {**CASES, "datasets": {"wild": {"loader": "folder", "root": "empty", "classes": 1}}})
    result = subprocess.run(
        SNAKEMAKE + ["--directory", str(tmp_path), "--cores", "1", "results/wild/videos.parquet"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "error: folder at empty: no videos with a class of this protocol" in result.stdout + result.stderr


def casme2_copy_of_synthetic(root: Path, seed: int, first_subject: int) -> Path:
    """A small synthetic set (another seed) written in CASME II's layout and coding file, its
    subjects renumbered from ``first_subject``: a second and third dataset whose faces the
    preprocessing can find."""
    from mol_core.datasets import load
    from mol_core.synthetic import SyntheticSettings, generate_dataset

    from .fake_datasets import write_casme2

    source = generate_dataset(
        root / "source", FACES, SyntheticSettings(subjects=2, videos_per_class=1, frames=8, pad_frames=1, seed=seed), n_jobs=1, verbose=False
    )
    videos = []
    for record in load("synthetic", source):
        subject = first_subject + int(record.subject.removeprefix("sub")) - 1
        folder = root / "CASME2" / "CASME2_RAW_selected" / f"sub{subject:02d}" / record.video
        folder.mkdir(parents=True)
        for number, frame in enumerate(record.frames, record.onset):
            cv2.imwrite(str(folder / f"img{number}.jpg"), cv2.imread(frame))
        videos.append(
            {
                "subject": subject,
                "video": record.video,
                "onset": record.onset,
                "apex": record.apex,
                "offset": record.offset,
                "emotion": record.emotion,
            }
        )
    return write_casme2(root / "CASME2", videos, with_frames=False)


@pytest.mark.slow
def test_leave_one_dataset_out_end_to_end(tmp_path):
    """LODO over the synthetic set and two CASME II-layout copies of other synthetic sets (one
    sharing the synthetic set's subject names): three trainings, each on the other two
    datasets, and every table with one row per held-out dataset beside the pooled one."""
    from .helpers import TINY

    config = {
        **TINY,
        "datasets": {
            "synthetic": TINY["datasets"]["synthetic"],
            "copy_a": {"loader": "casme2", "root": str(casme2_copy_of_synthetic(tmp_path / "a", 7, 1)), "classes": 5},
            "copy_b": {"loader": "casme2", "root": str(casme2_copy_of_synthetic(tmp_path / "b", 8, 11)), "classes": 5},
        },
        "experiments": {
            "lodo": {
                **{k: v for k, v in TINY["experiments"]["tiny"].items() if k != "dataset"},
                "protocol": "lodo",
                "datasets": ["synthetic", "copy_a", "copy_b"],
            }
        },
    }
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2")
    predictions = {
        fold: pd.read_parquet(tmp_path / f"results/lodo/folds/{fold}/predictions.parquet") for fold in ("synthetic", "copy_a", "copy_b")
    }
    assert {fold: len(p) for fold, p in predictions.items()} == {"synthetic": 15, "copy_a": 10, "copy_b": 10}
    import torch

    subjects = torch.load(tmp_path / "results/lodo/folds/copy_b/model.pt", weights_only=False)["subjects"]
    assert subjects["test"] == ["sub11", "sub12"]
    assert sorted(subjects["train"] + subjects["validation"]) == ["casme2:sub01", "casme2:sub02", "sub03", "synthetic:sub01", "synthetic:sub02"]
    metrics = MetricsTable.read(tmp_path / "results/lodo/metrics.csv")
    everything = pd.concat(predictions.values())
    assert metrics.value("acc") == pytest.approx((everything.pred == everything.label).mean())
    for fold, p in predictions.items():
        assert metrics.value("acc", source=fold) == pytest.approx((p.pred == p.label).mean())
        assert list(metrics.rows(source=fold).index) == ["acc", "wf1", "uf1", "uar"]
    assert pd.read_csv(tmp_path / "results/lodo/per_source.csv").source.tolist() == ["synthetic", "copy_a", "copy_b"]
    summary = (tmp_path / "results/summary.md").read_text()
    assert markdown_row(summary, "lodo") and all(markdown_row(summary, f"lodo: {fold}") for fold in predictions)
    assert "35 test videos in 3 leave-one-dataset-out folds" in (tmp_path / "results/lodo/metrics.md").read_text()
