"""The preprocessing cache: stable alignment, reuse, flow-only recomputation, killed jobs,
skipped videos through the command-line tools, and the HDF5 export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest
import zarr

from mol_core.clips.sampling import Sampling
from mol_core.datasets import load, records_to_table
from mol_core.errors import DataError
from mol_core.preprocess import build_flow, build_store, has_flow, open_store, preprocess_video, store_status
from mol_core.store.export import export_dataset
from mol_core.store.keys import PreprocessSettings, flow_name
from mol_core.store.zarr_store import stored_transforms
from mol_core.synthetic import SyntheticSettings, generate_dataset

from .conftest import FACES, SMALL_PREPARATION, SMALL_SAMPLING
from .helpers import index_clips, preprocess_subjects


def test_alignment_of_a_static_face_is_stable(tmp_path):
    """One transform per video: dlib landmarks of a still face (sensor noise only) move by
    well under half a pixel across its aligned frames."""
    still = SyntheticSettings(
        subjects=2,
        videos_per_class=1,
        frames=12,
        pad_frames=0,
        amplitude=(0.0, 0.0),
        head_motion_px=0.0,
        head_motion_deg=0.0,
        noise_sigma=1.0,
        classes=("others",),
        seed=9,
    )
    records = load("synthetic", generate_dataset(tmp_path / "still", FACES, still, verbose=False))
    for record in records:
        store = tmp_path / f"{record.subject}.zarr"
        build_store(record.frames, store, PreprocessSettings(), {})
        landmarks = open_store(store)["landmarks"][:]
        deviation = np.linalg.norm(landmarks - landmarks.mean(0), axis=-1)  # [T,68]
        per_frame = deviation.mean(1)  # each frame's mean distance from the points' average places
        print(f"{record.subject}: landmark jitter {deviation.mean():.3f} px (worst frame {per_frame.max():.3f} px)")
        assert per_frame.max() < 0.5 and deviation.mean() < 0.3


def test_flow_change_recomputes_flow_only(small_videos, tmp_path):
    row = small_videos.iloc[0]
    store = tmp_path / "v.zarr"
    first = preprocess_video(list(row.frames), store, PreprocessSettings(), [SMALL_SAMPLING], {})
    assert first.status == "complete" and not first.store.reused
    frames_before = open_store(store)["frames"][:]
    again = preprocess_video(list(row.frames), store, PreprocessSettings(), [SMALL_SAMPLING], {})
    assert again.store.reused and all(f.reused for f in again.flows.values())
    faster = PreprocessSettings(flow={"nscales": 3, "warps": 3})
    changed = preprocess_video(list(row.frames), store, faster, [SMALL_SAMPLING, Sampling(2)], {})
    assert changed.store.reused  # frames and landmarks untouched
    assert not any(f.reused for f in changed.flows.values())
    names = {flow_name(SMALL_SAMPLING, PreprocessSettings()), flow_name(SMALL_SAMPLING, faster), flow_name(Sampling(2), faster)}
    assert len(names) == 3 and all(has_flow(store, n) for n in names)
    assert np.array_equal(open_store(store)["frames"][:], frames_before)


def test_partial_store_and_flow_are_rebuilt(small_videos, tmp_path):
    row = small_videos.iloc[0]
    store = tmp_path / "v.zarr"
    group = zarr.open_group(str(store), mode="w", zarr_format=3)
    group.create_array("frames", data=np.zeros((3, 144, 144), np.uint8))  # a killed writer's leftovers
    assert store_status(store)[0] == "invalid"
    made = build_store(list(row.frames), store, PreprocessSettings(), {})
    assert made.status == "complete" and not made.reused
    assert open_store(store)["frames"].shape[0] == len(row.frames)
    name = flow_name(SMALL_SAMPLING, PreprocessSettings())
    zarr.create_array(store=str(store / "flow" / name), data=np.zeros((6, 2, 144, 144), np.float16))  # no mark
    zarr.create_array(store=str(store / "pairs" / name), data=np.zeros((6, 2), np.int32))
    assert not has_flow(store, name)
    assert not build_flow(store, SMALL_SAMPLING, PreprocessSettings()).reused
    assert has_flow(store, name) and np.abs(open_store(store)[f"flow/{name}"][:]).max() > 0


def test_killed_job_leaves_nothing_a_rerun_trusts(small_videos, tmp_path):
    videos = tmp_path / "videos.parquet"
    small_videos.to_parquet(videos)
    row = small_videos.iloc[0]
    store, marker = tmp_path / "cache" / "v.zarr", tmp_path / "cache" / "v.json"
    slow = json.dumps({"flow": {"inner_iterations": 300}})  # a flow that takes seconds
    command = [
        sys.executable,
        "-m",
        "mol_core.preprocess",
        "--videos",
        str(videos),
        "--subject",
        row.subject,
        "--video",
        row.video,
        "--store",
        str(store),
        "--marker",
        str(marker),
        "--settings",
        slow,
        "--sampling",
        '{"frames": 4}',
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while store_status(store)[0] != "complete" and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the job finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)  # killed while computing the flow
    process.wait()
    settings = PreprocessSettings(flow={"inner_iterations": 300})
    name = flow_name(SMALL_SAMPLING, settings)
    assert not marker.exists() and not has_flow(store, name)
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "store reused from the cache" in rerun.stdout and has_flow(store, name)
    assert json.loads(marker.read_text())["status"] == "complete"


def test_video_without_face_is_listed_and_the_others_finish(small_videos, tmp_path):
    blank = tmp_path / "blank"
    blank.mkdir()
    frames = []
    for k in range(8):
        cv2.imwrite(str(blank / f"img{k}.png"), np.full((120, 100, 3), 90, np.uint8))
        frames.append(str(blank / f"img{k}.png"))
    table = pd.concat([small_videos.iloc[:2], small_videos.iloc[:1].assign(video="NOFACE", frames=[frames])], ignore_index=True)
    videos = tmp_path / "videos.parquet"
    table.to_parquet(videos)
    markers, out, skipped = tmp_path / "markers", tmp_path / "clips.parquet", tmp_path / "skipped.csv"
    # One job for the subject: the video without a face does not stop the others.
    assert preprocess_subjects(videos, tmp_path / "cache", markers, settings='{"cnn_frames": 1}') == [0]
    assert sorted(p.name for p in (markers / table.subject[0]).iterdir()) == sorted(f"{v}.json" for v in table.video)
    assert index_clips(videos, markers, out, skipped) == 0
    listed = pd.read_csv(skipped)
    assert listed.video.tolist() == ["NOFACE"] and "no face found in any of the 8 frames" in listed.reason[0]
    assert sorted(pd.read_parquet(out).video.unique()) == sorted(table.video[:2])


def test_a_subject_job_goes_on_past_a_failed_video_and_names_it(small_videos, tmp_path, monkeypatch, capsys):
    """One job per subject: a video whose preprocessing fails (a MolError) does not stop the
    subject's other videos, whose stores are made; the job exits 1 naming it, writes no marker
    folder, and its rerun reuses the others' stores. A marker is the same as the one-video
    form's."""
    import mol_core.preprocess.__main__ as cli

    subject = small_videos.subject[0]
    table = small_videos[small_videos.subject == subject].iloc[:3]
    videos, cache, markers = tmp_path / "videos.parquet", tmp_path / "cache", tmp_path / "markers"
    table.to_parquet(videos)
    bad = table.video.iloc[1]
    real = cli.preprocess_video

    def failing(frames, store, *args, **kwargs):
        if Path(store).stem == bad:
            raise DataError(f"{frames[0]}: unreadable")
        return real(frames, store, *args, **kwargs)

    monkeypatch.setattr(cli, "preprocess_video", failing)
    assert preprocess_subjects(videos, cache, markers) == [1]
    captured = capsys.readouterr()
    assert f"error: {subject}/{bad}: {table.frames.iloc[1][0]}: unreadable" in captured.err
    assert f"1 of 3 videos failed ({subject}/{bad})" in captured.err and f"{subject}: 3 videos in" in captured.out
    assert not (markers / subject).exists()  # no partial marker folder: it appears whole or not at all
    assert sorted(p.stem for p in (cache / subject).glob("*.zarr")) == sorted(set(table.video) - {bad})
    monkeypatch.setattr(cli, "preprocess_video", real)
    assert preprocess_subjects(videos, cache, markers) == [0]
    out = capsys.readouterr().out
    assert out.count("store reused from the cache") == 2 and f"{subject}/{bad}: store made" in out
    row, one = table.iloc[0], tmp_path / "one.json"
    store = cache / subject / f"{row.video}.zarr"
    one_video = [
        "--videos",
        str(videos),
        "--subject",
        subject,
        "--video",
        row.video,
        "--store",
        str(store),
        "--marker",
        str(one),
        "--sampling",
        '{"frames": 4}',
    ]
    assert cli.main(one_video) == 0
    assert json.loads(one.read_text()) == json.loads((markers / subject / f"{row.video}.json").read_text())
    with pytest.raises(SystemExit):  # --store names one video's store: one --video, no --stores
        cli.main([*one_video, "--stores", str(cache)])


def test_hdf5_export_holds_everything(small_stores, small_videos, tmp_path):
    from mol_core.clips.index import build_clip_index

    from .conftest import markers_of

    clips, skipped = build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)
    out = export_dataset(small_videos, clips, skipped, tmp_path / "synthetic.h5")
    with h5py.File(out, "r") as h5:
        assert h5.attrs["flow"] == clips.flow.iloc[0]
        assert [s.decode() for s in h5["videos/subject"][:]] == small_videos.subject.tolist()
        assert h5["videos/label"][:].tolist() == small_videos.label.tolist()
        assert set(h5["videos/split"][:].tolist()) == {b""}  # the synthetic set has no owners' split
        row = small_videos.iloc[0]
        video = h5[f"{row.subject}/{row.video}"]
        store = open_store(small_stores / row.subject / f"{row.video}.zarr")
        assert np.array_equal(video["frames"][:], store["frames"][:])
        assert video["flow"].dtype == np.float16 and video["flow"].shape[0] == video["pairs"].shape[0] == 6
        n = store["frames"].shape[0]
        assert video.attrs["align"] == "per_frame" and video["transforms"][:] == pytest.approx(stored_transforms(store.attrs, n))
        assert json.loads(h5["videos/frames"][0])[0] == row.frames[0]


def test_records_round_trip_through_the_table(small_dataset):
    records = load("synthetic", small_dataset)
    assert len(records_to_table(records)) == len(records)


@pytest.mark.parametrize("bad", [{"flow": {"lambd": 0.1}}, {"flow_dtype": "int8"}])
def test_bad_preprocess_settings(bad):
    with pytest.raises(ValueError):
        PreprocessSettings(**bad)
