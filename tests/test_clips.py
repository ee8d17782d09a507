"""Clip sampling and the clip index."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pytest

from mol_core.clips.index import build_clip_index, combine_clip_tables
from mol_core.clips.index import main as clips_main
from mol_core.clips.sampling import Sampling
from mol_core.errors import DataError
from mol_core.preprocess import open_store
from mol_core.store.zarr_store import write_skipped

from .conftest import SMALL_FLOW, SMALL_PREPARATION, SMALL_SAMPLING, markers_of


def test_uniform_sampling_follows_the_paper():
    s = Sampling(frames=8)
    assert s.clips(16) == [[0, 2, 4, 6, 8, 10, 12, 14], [1, 3, 5, 7, 9, 11, 13, 15]]
    assert s.clips(8) == [list(range(8))]
    assert s.clips(7) == []
    assert len(s.clips(35)) == 4 and s.clips(35)[3] == [3, 7, 11, 15, 19, 23, 27, 31]
    assert s.pairs(16) == sorted({(a, a + 2) for a in range(14)})
    assert s.name == "uniform_t8"
    with pytest.raises(ValueError, match="at least 2 frames"):
        Sampling(frames=1)


def test_clip_index_points_at_the_right_frames_and_flows(small_stores, small_videos, tmp_path):
    clips, skipped = build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)
    assert skipped.empty
    n = len(small_videos.frames.iloc[0])  # 8 frames, t=4: interval 2, two clips per video
    assert len(clips) == 2 * len(small_videos)
    assert clips.groupby(["subject", "video"]).clip.apply(list).map(lambda c: c == [0, 1]).all()
    for row in clips.itertuples():
        assert list(row.frames) == SMALL_SAMPLING.clips(n)[row.clip]
        assert row.flow == SMALL_FLOW
        pairs = open_store(row.store)[f"pairs/{row.flow}"][:]
        assert pairs[row.pair_rows].tolist() == [list(pair) for pair in pairwise(row.frames)]
        video = small_videos[(small_videos.subject == row.subject) & (small_videos.video == row.video)].iloc[0]
        assert row.label == video.label and row.emotion == video.emotion
    assert clips.split.isna().all()  # no owners' split in this table
    split = small_videos.assign(split=["validation" if k % 2 else "train" for k in range(len(small_videos))])
    with_split = build_clip_index(split, markers_of(small_stores), SMALL_PREPARATION)[0]
    assert with_split.merge(split[["subject", "video", "split"]], on=["subject", "video"]).eval("split_x == split_y").all()


def test_skipped_videos_are_listed_and_the_rest_indexed(small_stores, small_videos, tmp_path):
    stores = tmp_path / "stores"
    (stores / small_videos.subject.iloc[0]).mkdir(parents=True)
    victim = small_videos.iloc[0]
    write_skipped(stores / victim.subject / f"{victim.video}.zarr", "no face found in any of the 8 frames", {})

    def marker_of(subject, video):
        mine = stores / subject / f"{video}.zarr"
        return markers_of(stores if mine.exists() else small_stores)(subject, video)

    clips, skipped = build_clip_index(small_videos, marker_of, SMALL_PREPARATION)
    assert skipped.to_dict("records") == [
        {"subject": victim.subject, "video": victim.video, "reason": "no face found in any of the 8 frames", "stage": "preprocess"}
    ]
    assert len(clips) == 2 * (len(small_videos) - 1)
    assert victim.video not in set(clips[clips.subject == victim.subject].video)


def test_cli_writes_index_and_skipped(small_stores, small_videos, tmp_path, capsys):
    videos = tmp_path / "videos.parquet"
    table = small_videos.copy()
    table.attrs["skipped"] = [{"subject": "sub09", "video": "EP01_01", "reason": "frame 12 (1 of 8) missing"}]  # as the loader keeps them
    table.to_parquet(videos)
    markers = tmp_path / "markers"
    for row in small_videos.itertuples():
        (markers / row.subject).mkdir(parents=True, exist_ok=True)
        markers_of(small_stores)(row.subject, row.video).write(markers / row.subject / f"{row.video}.json")
    out, skipped = tmp_path / "clips.parquet", tmp_path / "skipped.csv"
    code = clips_main(
        [
            "--videos",
            str(videos),
            "--markers",
            str(markers),
            "--settings",
            "{}",
            "--sampling",
            '{"frames": 4}',
            "--out",
            str(out),
            "--skipped",
            str(skipped),
        ]
    )
    assert code == 0
    assert len(pd.read_parquet(out)) == 2 * len(small_videos)
    assert set(pd.read_parquet(out).preparation) == {SMALL_PREPARATION.to_json()}  # the record training copies into its checkpoint
    other = ["--settings", '{"flow": {"nscales": 3}}', "--sampling", '{"frames": 4}', "--out", str(tmp_path / "o.parquet")]
    assert clips_main(["--videos", str(videos), "--markers", str(markers), *other, "--skipped", str(tmp_path / "o.csv")]) == 1
    assert "names flow uniform_t4-" in capsys.readouterr().err  # markers made with other settings are not indexed as these
    assert pd.read_csv(skipped).to_dict("records") == [
        {"subject": "sub09", "video": "EP01_01", "reason": "frame 12 (1 of 8) missing", "stage": "data"}
    ]  # the loader's skipped videos reach skipped.csv
    assert (
        clips_main(
            [
                "--videos",
                str(videos),
                "--markers",
                str(tmp_path / "none"),
                "--settings",
                "{}",
                "--sampling",
                '{"frames": 4}',
                "--out",
                str(tmp_path / "x.parquet"),
                "--skipped",
                str(tmp_path / "x.csv"),
            ]
        )
        == 1
    )


def clip_table(dataset: str, subjects: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dataset": dataset,
            "subject": subjects,
            "video": [f"v{i}" for i in range(len(subjects))],
            "store": [f"/{dataset}/{s}/v{i}.zarr" for i, s in enumerate(subjects)],
        }
    )


def test_training_tables_of_several_datasets_keep_their_subjects_apart():
    """A leave-one-dataset-out fold trains on several clip tables; a subject name two of them
    share (sub01 of CASME II and of the synthetic set) would merge two people in the
    validation split and in the per-video means."""
    casme2 = clip_table("casme2", ["sub01", "sub01", "sub02"])
    synthetic = clip_table("synthetic", ["sub01", "sub03"])
    samm = clip_table("samm", ["006"])
    combined = combine_clip_tables([casme2, synthetic, samm])
    assert combined.subject.tolist() == ["casme2:sub01", "casme2:sub01", "sub02", "synthetic:sub01", "sub03", "006"]
    assert combined.store.tolist() == casme2.store.tolist() + synthetic.store.tolist() + samm.store.tolist()
    assert combine_clip_tables([casme2]) is casme2
    with pytest.raises(DataError, match="casme2:sub01 in more than one training clip table"):
        combine_clip_tables([casme2, clip_table("casme2", ["sub01"])])
