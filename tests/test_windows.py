"""Long videos cut into windows before preprocessing (datasets.<name>.windows, issue 16 item 2)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from mol_core.datasets import load
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.datasets.records import VideoRecord
from mol_core.datasets.windows import WindowSettings, cut_windows
from mol_core.errors import ConfigError

from .fake_datasets import AFFWILD2_FACES, write_affwild2


def record(subject: str, video: str, emotion: str, onset: int, n: int, apex: int | None = None) -> VideoRecord:
    frames = [f"{subject}/{video}/{k}.png" for k in range(onset, onset + n)]
    return VideoRecord("d", subject, video, emotion, 0, onset, apex, onset + n - 1, frames)


def test_windows_are_slices_capped_per_subject_then_per_class_evenly():
    records = [record("A", "a1", "happy", 1, 10, apex=5), record("A", "a2", "happy", 20, 3), record("B", "b1", "happy", 1, 8)]
    every = cut_windows(records, WindowSettings(frames=4, stride=2))
    assert [(w.subject, w.video, w.onset, w.offset) for w in every] == [
        ("A", "a1_1", 1, 4),
        ("A", "a1_3", 3, 6),
        ("A", "a1_5", 5, 8),
        ("A", "a1_7", 7, 10),
        ("B", "b1_1", 1, 4),
        ("B", "b1_3", 3, 6),
        ("B", "b1_5", 5, 8),
    ]  # a2 (3 frames) is shorter than a window
    assert every[2].frames == ["A/a1/5.png", "A/a1/6.png", "A/a1/7.png", "A/a1/8.png"]
    assert [w.apex for w in every[:4]] == [None, 5, 5, None]  # kept where it falls inside
    capped = cut_windows(records, WindowSettings(frames=4, stride=2, per_subject=3))
    assert [w.video for w in capped] == ["a1_1", "a1_5", "a1_7", "b1_1", "b1_3", "b1_5"]  # first and last kept
    both = cut_windows(records, WindowSettings(frames=4, stride=2, per_subject=3, per_class=4))
    assert [w.video for w in both] == ["a1_1", "a1_7", "b1_1", "b1_5"]
    side_by_side = cut_windows(records, WindowSettings(frames=4))
    assert [w.video for w in side_by_side] == ["a1_1", "a1_5", "b1_1", "b1_5"]
    assert cut_windows(records, WindowSettings(frames=4, stride=2)) == every  # deterministic


BAD = [{"frames": 0}, {"frames": 4, "stride": -1}, {"frames": 4, "per_class": 2.5}, {"stride": 2}, {"frames": 4, "size": 2}]


@pytest.mark.parametrize("values", BAD)
def test_bad_window_settings_are_config_errors(values):
    with pytest.raises(ConfigError, match="windows"):
        WindowSettings.from_dict(values)


def test_the_video_table_of_aff_wild2_cut_into_windows(tmp_path, capsys):
    """Only the kept windows become videos (so only their frames are preprocessed), each a
    contiguous slice of its segment, named after its first frame."""
    tree = write_affwild2(tmp_path / "Aff-Wild2", AFFWILD2_FACES)
    segments = {r.video: r for r in load("affwild2", tree, classes=7)}
    out = tmp_path / "videos.parquet"
    windows = '{"frames": 4, "stride": 3, "per_subject": 2, "per_class": 2}'
    assert datasets_main(["table", "affwild2", str(tree), "--classes", "7", "--windows", windows, "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert len(table) and (table.n_frames == 4).all() and table.apex.isna().all()
    assert table.groupby("subject").size().max() <= 2 and table.groupby("emotion").size().max() <= 2
    for row in table.itertuples():
        segment = segments[row.video.rsplit("_", 1)[0]]
        start = row.onset - segment.onset
        assert list(row.frames) == segment.frames[start : start + 4] and row.subject == segment.subject
    frames = sum(len(s.frames) for s in segments.values())
    assert f"{len(segments)} records of {frames} frames -> {len(table)} windows of {4 * len(table)} frames" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_windows_of_a_video_file_read_in_order_or_not_give_its_frames(tmp_path, suffix):
    """The file stays open between windows read in order (frames before a window skipped
    without decoding); a window before the open position opens it again: the same pixels."""
    from mol_core.util.video_io import close_open_video, read_gray_frames

    from .fake_datasets import affwild2_grey, write_video_file

    path = tmp_path / f"long{suffix}"
    write_video_file(path, 40)
    for window in ([5, 6, 7, 8], [12, 13, 14], [30, 31], [2, 3, 4], [3, 4, 5, 6, 7]):
        grey = read_gray_frames([f"{path}::{k}" for k in window])
        assert np.abs(grey.mean(axis=(1, 2)) - [affwild2_grey(k) for k in window]).max() < 4, window
    close_open_video()


def test_a_video_file_replaced_between_reads_is_read_again(tmp_path):
    from mol_core.util.video_io import close_open_video, read_gray_frames

    from .fake_datasets import affwild2_grey, write_video_file

    path = tmp_path / "clip.avi"
    write_video_file(path, 20)
    first = read_gray_frames([f"{path}::{k}" for k in (2, 3)])
    os.replace(tmp_path / "clip.avi", tmp_path / "old.avi")
    write_video_file(path, 20, size=48)  # another file at the same path
    again = read_gray_frames([f"{path}::{k}" for k in (5, 6)])
    assert first.shape[1:] == (32, 32) and again.shape[1:] == (48, 48)
    assert np.abs(again.mean(axis=(1, 2)) - [affwild2_grey(k) for k in (5, 6)]).max() < 4
    close_open_video()
