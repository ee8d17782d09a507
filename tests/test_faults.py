"""Fault injection: bad or stale inputs never reach training. Each test breaks one thing (a
truncated or corrupt frame, an edited coding row, a replaced frame, a deleted or corrupt
store chunk, a stale or corrupt resume point) and asserts the outcome: the video skipped
with a reason naming the file, the store rebuilt, the result identical to a clean run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from mol_core.clips.data import ClipDataset
from mol_core.clips.index import build_clip_index
from mol_core.datasets import load, records_to_table
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.errors import DataError
from mol_core.preprocess import build_flow, build_store, open_store, preprocess_video, store_status
from mol_core.preprocess.__main__ import main as preprocess_main
from mol_core.store.keys import PreprocessSettings, source_fingerprint
from mol_core.store.markers import Marker, marker_problem
from mol_core.store.zarr_store import flow_problem, store_problem
from mol_core.train.loop import TrainSettings, train_fold
from mol_core.train.resume import read_resume, resume_key
from mol_core.util.video_io import read_gray_frames

from .conftest import SMALL_FLOW, SMALL_PREPARATION, SMALL_SAMPLING, markers_of
from .fake_datasets import write_excel
from .helpers import index_clips, preprocess_subjects

CASME2_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]


def casme2_copy(root: Path, videos: pd.DataFrame, small_dataset: Path, count: int = 2) -> Path:
    """A CASME II copy in the owners' layout (coding workbook, ``sub{NN}/{video}/img{N}.jpg``)
    made of the first ``count`` synthetic videos: every frame of their folders (neutral
    frames past the offset included) as JPEG."""
    rows = []
    for row in videos.iloc[:count].itertuples():
        folder = root / "CASME2_RAW_selected" / row.subject / row.video
        folder.mkdir(parents=True)
        for png in (small_dataset / row.subject / row.video).glob("img*.png"):
            cv2.imwrite(str(folder / f"{png.stem}.jpg"), cv2.imread(str(png)), [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append([int(row.subject[3:]), row.video, row.onset, row.apex, row.offset, "12", row.emotion])
    write_excel(root / "CASME2-coding-20140508.xlsx", [CASME2_HEADER] + rows)
    return root


def truncate(path: Path, share: float = 0.55) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])


@pytest.fixture
def casme2(tmp_path, small_videos, small_dataset) -> Path:
    return casme2_copy(tmp_path / "CASME2", small_videos, small_dataset)


def test_truncated_jpeg_is_reported_by_check_and_skipped_naming_the_file(casme2, tmp_path, capsys):
    record = load("casme2", casme2)[0]
    bad = Path(record.frames[3])
    truncate(bad)
    assert datasets_main(["check", "casme2", str(casme2)]) == 0  # the run goes on without that video
    out = capsys.readouterr().out
    assert f"{record.key}: {bad}: truncated JPEG (no end-of-image marker FFD9" in out and "will be skipped: 1 (the run goes on" in out
    assert "(preprocessing will skip it)" in out and "problems (block a run): 0" in out
    assert datasets_main(["check", "casme2", str(casme2), "--strict"]) == 1
    capsys.readouterr()
    with pytest.raises(DataError, match=f"unreadable frame {bad}: truncated JPEG"):
        read_gray_frames(record.frames)
    # Through the command-line tools: the video is listed in skipped.csv with the file's name.
    videos = tmp_path / "videos.parquet"
    assert datasets_main(["table", "casme2", str(casme2), "--out", str(videos)]) == 0
    table = pd.read_parquet(videos)
    markers, skipped, clips = tmp_path / "markers", tmp_path / "skipped.csv", tmp_path / "clips.parquet"
    assert set(preprocess_subjects(videos, tmp_path / "cache", markers)) == {0}
    assert index_clips(videos, markers, clips, skipped) == 0
    listed = pd.read_csv(skipped)
    assert listed.video.tolist() == [record.video] and str(bad) in listed.reason[0] and "truncated JPEG" in listed.reason[0]
    assert set(pd.read_parquet(clips).video) == {table.video[1]}


def test_corrupt_or_mismatched_frames_are_named(casme2, capsys):
    record = load("casme2", casme2)[0]
    frames = [Path(f) for f in record.frames]
    # Scrambled entropy data with the end marker intact: the headers look fine, decoding warns.
    data = bytearray(frames[2].read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff\xd0garbag"
    frames[2].write_bytes(bytes(data))
    assert datasets_main(["check", "casme2", str(casme2)]) == 0
    capsys.readouterr()
    assert datasets_main(["check", "casme2", str(casme2), "--deep", "--strict"]) == 1
    assert f"{frames[2]}: decoder warning: Corrupt JPEG data" in capsys.readouterr().out
    with pytest.raises(DataError, match=f"unreadable frame {frames[2]}: decoder warning"):
        read_gray_frames(record.frames)
    # A frame of another size, and a grey frame in a colour video: both named beside the first frame.
    shutil.copy(frames[0], frames[2])
    image = cv2.imread(str(frames[4]))
    cv2.imwrite(str(frames[4]), cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2)))
    cv2.imwrite(str(frames[5]), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    assert datasets_main(["check", "casme2", str(casme2), "--strict"]) == 1
    out = capsys.readouterr().out
    width, height = image.shape[1], image.shape[0]
    assert (f"{frames[4]}: {width // 2}x{height // 2}, 3 channels; the video's first frame {frames[0]} is {width}x{height}, 3 channels") in out
    assert f"{frames[5]}: {width}x{height}, 1 channel; the video's first frame" in out and "will be skipped: 1 (strict" in out  # one video
    with pytest.raises(DataError, match=f"frame {frames[4]} is {width // 2}x{height // 2}"):
        read_gray_frames(record.frames)


def test_edited_coding_row_rebuilds_just_that_video(casme2, tmp_path):
    cache = tmp_path / "cache"

    def preprocess(table):
        out = {}
        for row in table.itertuples():
            source = {"subject": row.subject, "video": row.video, "onset": row.onset, "apex": row.apex, "offset": row.offset}
            out[row.video] = preprocess_video(
                list(row.frames), cache / row.subject / f"{row.video}.zarr", PreprocessSettings(), [SMALL_SAMPLING], source
            )
        return out

    before = records_to_table(load("casme2", casme2))
    first = preprocess(before)
    assert not any(r.store.reused for r in first.values())
    edited, kept = before.video[0], before.video[1]
    coding = pd.read_excel(casme2 / "CASME2-coding-20140508.xlsx")
    coding.loc[coding.Filename == edited, "OffsetFrame"] -= 2  # corrected in place, like the owners' errata
    write_excel(casme2 / "CASME2-coding-20140508.xlsx", [CASME2_HEADER] + coding.values.tolist())
    after = records_to_table(load("casme2", casme2))
    second = preprocess(after)
    assert second[kept].store.reused and second[kept].flows[SMALL_FLOW].reused
    assert not second[edited].store.reused and "its sources changed" in second[edited].store.rebuilt
    row = after[after.video == edited].iloc[0]
    store = open_store(cache / row.subject / f"{edited}.zarr")
    assert store["frames"].shape[0] == row.offset - row.onset + 1 == row.n_frames == len(before.frames[0]) - 2
    assert store.attrs["source"]["offset"] == row.offset
    clips, _ = build_clip_index(after, markers_of(cache), SMALL_PREPARATION)
    expected = [list(c) for c in SMALL_SAMPLING.clips(int(row.n_frames))]
    assert clips[clips.video == edited].frames.map(list).tolist() == expected  # sampled within the new offset


def test_replaced_frame_rebuilds_the_store(small_videos, tmp_path):
    row = small_videos.iloc[0]
    frames = []
    for k, path in enumerate(row.frames):
        frames.append(str(tmp_path / "frames" / f"img{k}.png"))
        Path(frames[-1]).parent.mkdir(exist_ok=True)
        shutil.copy(path, frames[-1])
    store = tmp_path / "v.zarr"
    assert not build_store(frames, store, PreprocessSettings(), {}).reused
    assert build_store(frames, store, PreprocessSettings(), {}).reused
    original = open_store(store)["frames"][:]
    image = cv2.imread(frames[2])
    cv2.imwrite(frames[2], np.clip(image.astype(int) + 40, 0, 255).astype(np.uint8))  # a brighter replacement
    made = build_store(frames, store, PreprocessSettings(), {})
    assert not made.reused and "its sources changed" in made.rebuilt
    rebuilt = open_store(store)["frames"][:]
    assert rebuilt[2].mean() > original[2].mean() + 20
    assert open_store(store).attrs["fingerprint"] == source_fingerprint(frames, {})


def test_deleted_or_corrupt_chunks_are_rebuilt_identically(small_videos, tmp_path):
    row = small_videos.iloc[0]
    store = tmp_path / "v.zarr"
    preprocess_video(list(row.frames), store, PreprocessSettings(), [SMALL_SAMPLING], {})
    frames, flow = open_store(store)["frames"][:], open_store(store)[f"flow/{SMALL_FLOW}"][:]
    assert store_problem(store, full=True) is None
    # A deleted frame chunk: the store is no longer complete, and is rebuilt to the same frames.
    (store / "frames/c/3/0/0").unlink()
    assert store_status(store) == ("invalid", f"damaged store: {store}/frames/c/3/0/0: chunk file missing")
    made = build_store(list(row.frames), store, PreprocessSettings(), {})
    assert not made.reused and "chunk file missing" in made.rebuilt
    assert np.array_equal(open_store(store)["frames"][:], frames)
    build_flow(store, SMALL_SAMPLING, PreprocessSettings())
    # A truncated flow chunk: that flow alone is rebuilt, to the same values.
    chunk = store / f"flow/{SMALL_FLOW}/c/2/0/0/0"
    truncate(chunk, 0.5)
    assert "chunk file has" in flow_problem(store, SMALL_FLOW)
    again = build_flow(store, SMALL_SAMPLING, PreprocessSettings())
    assert not again.reused and "chunk file has" in again.rebuilt
    assert np.array_equal(open_store(store)[f"flow/{SMALL_FLOW}"][:], flow)
    # Same size, other bytes: only the full check (verify) sees it; --remove deletes the store.
    chunk.write_bytes(bytes(reversed(chunk.read_bytes())))
    assert store_problem(store) is None and "changed since it was written" in store_problem(store, full=True)
    assert preprocess_main(["verify", str(tmp_path)]) == 1 and store.exists()
    assert preprocess_main(["verify", str(tmp_path), "--remove"]) == 1 and not store.exists()
    assert preprocess_main(["verify", str(tmp_path)]) == 0


def test_marker_of_a_gone_store_is_stale(small_videos, tmp_path):
    row = small_videos.iloc[0]
    store, marker = tmp_path / "v.zarr", tmp_path / "v.json"
    preprocess_video(list(row.frames), store, PreprocessSettings(), [SMALL_SAMPLING], {})
    Marker(row.subject, row.video, "complete", str(store), SMALL_FLOW).write(marker)
    assert marker_problem(marker) is None
    (store / f"pairs/{SMALL_FLOW}/c/0/0").unlink()
    assert marker_problem(marker) == f"{store}/pairs/{SMALL_FLOW}/c/0/0: chunk file missing"
    shutil.rmtree(store)
    assert marker_problem(marker) == f"{store}: absent"


def test_training_names_an_unreadable_store_before_its_first_step(small_stores, small_videos, tmp_path):
    copies = tmp_path / "stores"
    shutil.copytree(small_stores, copies)
    clips, _ = build_clip_index(small_videos, markers_of(copies), SMALL_PREPARATION)
    first, second = sorted(clips.store.unique())[:2]
    shutil.rmtree(first)
    chunk = next(Path(second, "flow", SMALL_FLOW, "c").rglob("*"), None)
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    chunk.write_bytes(chunk.read_bytes()[:-7] + b"garbage")  # same size, undecodable
    with pytest.raises(DataError) as error:
        ClipDataset(clips)
    message = str(error.value)
    assert message.startswith("2 store(s) cannot be read") and f"{first}: absent" in message
    assert f"{second}: cannot read flow {SMALL_FLOW}" in message
    assert "python -m mol_core.preprocess verify" in message


TINY_MODEL = {"flow_width": 0.125, "fusion": "subtract"}


def test_stale_or_corrupt_resume_point_is_ignored(small_stores, small_videos, tmp_path, monkeypatch):
    clips, _ = build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)
    settings = TrainSettings(steps=2, batch_size=4, lr=1e-3, eval_every=1, log_every=1, checkpoint_every=1)
    names = ["happiness", "disgust", "repression", "surprise", "others"]
    fold = sorted(clips.subject.unique())[0]
    splits = {"train": clips[clips.subject != fold], "test": clips[clips.subject == fold]}
    key = resume_key(settings, TINY_MODEL, fold, splits)
    relabelled = {**splits, "train": splits["train"].assign(label=(splits["train"].label + 1) % 5)}
    assert resume_key(settings, TINY_MODEL, fold, relabelled) != key
    shifted = {**splits, "train": splits["train"].assign(frames=splits["train"].frames.map(lambda f: [i + 1 for i in f]))}
    assert resume_key(settings, TINY_MODEL, fold, shifted) != key
    assert resume_key(settings, TINY_MODEL, fold, {k: v.copy() for k, v in splits.items()}) == key

    clean = train_fold(clips, fold, tmp_path / "clean", names, settings, TINY_MODEL, log=lambda m: None)
    # Leftover resume points (kept by not deleting them at the end): one from a run on other
    # labels, one from this very run; and a corrupt file.
    import mol_core.train.loop as loop

    monkeypatch.setattr(loop, "remove_path", lambda path: None)
    train_fold(clips.assign(label=(clips.label + 1) % 5), fold, tmp_path / "stale", names, settings, TINY_MODEL, log=lambda m: None)
    train_fold(clips, fold, tmp_path / "same", names, settings, TINY_MODEL, log=lambda m: None)
    monkeypatch.undo()
    assert (tmp_path / "stale/resume.pt").exists() and (tmp_path / "same/resume.pt").exists()
    messages = []
    result = train_fold(clips, fold, tmp_path / "stale", names, settings, TINY_MODEL, log=messages.append)
    assert any("ignoring" in m and "belongs to another run" in m for m in messages), messages
    assert np.array_equal(np.stack(result.logits), np.stack(clean.logits))
    messages.clear()
    train_fold(clips, fold, tmp_path / "same", names, settings, TINY_MODEL, log=messages.append)
    assert any("resumed at step 1" in m for m in messages), messages  # the key does match its own run
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "resume.pt").write_bytes(b"\x80\x02 not a pickle")
    assert read_resume(corrupt / "resume.pt", key, "cpu")[1].startswith("it cannot be read (UnpicklingError")
    messages.clear()
    result = train_fold(clips, fold, corrupt, names, settings, TINY_MODEL, log=messages.append)
    assert any("ignoring" in m and "cannot be read" in m for m in messages), messages
    assert np.array_equal(np.stack(result.logits), np.stack(clean.logits))


def test_predict_cache_follows_a_replaced_video(small_videos, tmp_path):
    from mol_core.model import MOL, Checkpoint
    from mol_core.predict import Predictor

    row = small_videos.iloc[0]
    video = tmp_path / "in.avi"

    def write_video(frames):
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
        for frame in frames:
            writer.write(frame)
        writer.release()

    frames = [cv2.imread(f) for f in row.frames]
    write_video(frames)
    torch.manual_seed(0)
    model = MOL(5, frames=4, **TINY_MODEL).eval()
    checkpoint = Checkpoint(model.state_dict(), TINY_MODEL, 5, 4, tuple("abcde"), preparation=SMALL_PREPARATION.to_dict())
    cache = tmp_path / "cache"
    predictor = Predictor(checkpoint, "cpu", cache_dir=cache)
    first = predictor.predict(video)
    (store,) = cache.glob("*.zarr")
    first_frames = open_store(store)["frames"][:]
    write_video(frames[::-1])  # another recording saved under the same name
    second = predictor.predict(video)
    assert [p.name for p in cache.glob("*.zarr")] == [store.name]
    now = open_store(store)["frames"][:].astype(int)
    assert np.abs(now - first_frames[::-1]).mean() < np.abs(now - first_frames).mean()  # the new video's frames
    assert second.probabilities != first.probabilities
    assert open_store(store).attrs["fingerprint"] == source_fingerprint([f"{video}::{k}" for k in range(len(frames))], {})


def test_workflow_skips_a_truncated_frame_and_replans_an_edited_row(small_videos, small_dataset, tmp_path):
    """The issue's acceptance run, on a CASME II copy in the owners' layout: the truncated
    video is skipped naming the frame file; after an in-place edit of the workbook only the
    edited video is made again, and its store, table row and clips agree with the new offset;
    a replaced frame replans its video alone (its subject's job; one video per subject here)."""
    import yaml

    from .helpers import PREPROCESS_JOB, TINY, planned_jobs, snakemake

    one_per_subject = small_videos.drop_duplicates("subject")
    root = casme2_copy(tmp_path / "data" / "CASME2", one_per_subject, small_dataset, count=3)
    truncated_video = one_per_subject.iloc[2]
    bad = root / "CASME2_RAW_selected" / truncated_video.subject / truncated_video.video / f"img{truncated_video.onset + 2}.jpg"
    good_copy = tmp_path / "good.jpg"
    shutil.copy(bad, good_copy)
    truncate(bad)
    config = {
        **TINY,
        "datasets": {"casme2": {"loader": "casme2", "root": str(root), "classes": 5}},
        "experiments": {"tiny": {**TINY["experiments"]["tiny"], "dataset": "casme2"}},
    }
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/casme2/clips.parquet"
    snakemake(work, "--cores", "2", target)
    skipped = pd.read_csv(work / "results/casme2/skipped.csv")
    assert skipped.video.tolist() == [truncated_video.video] and f"{bad}: truncated JPEG" in skipped.reason[0]
    assert planned_jobs(snakemake(work, "-n", target)) == {}

    edited = one_per_subject.iloc[0]
    coding = pd.read_excel(root / "CASME2-coding-20140508.xlsx")
    coding.loc[(coding.Subject == int(edited.subject[3:])) & (coding.Filename == edited.video), "OffsetFrame"] -= 2
    write_excel(root / "CASME2-coding-20140508.xlsx", [CASME2_HEADER] + coding.values.tolist())
    assert planned_jobs(snakemake(work, "-n", target)) == {"videos": 1, "clips": 1}  # the table first...
    out = snakemake(work, "--cores", "2", target)
    made = re.findall(PREPROCESS_JOB, out)
    assert made == [edited.subject], out  # ...then just that video's subject (one video each here)
    table = pd.read_parquet(work / "results/casme2/videos.parquet").set_index(["subject", "video"])
    row = table.loc[(edited.subject, edited.video)]
    assert row.offset == edited.offset - 2 and row.n_frames == len(edited.frames) - 2
    clips = pd.read_parquet(work / target)
    mine = clips[(clips.subject == edited.subject) & (clips.video == edited.video)]
    store = open_store(work / mine.store.iloc[0])
    assert store["frames"].shape[0] == len(edited.frames) - 2 and store.attrs["source"]["offset"] == edited.offset - 2
    assert mine.frames.map(list).tolist() == [list(c) for c in SMALL_SAMPLING.clips(len(edited.frames) - 2)]

    shutil.copy(good_copy, bad)  # the interrupted copy redone
    out = snakemake(work, "-n", target)
    made = re.findall(PREPROCESS_JOB, out)
    assert made == [truncated_video.subject] and planned_jobs(out)["clips"] == 1, out

    # Trained, then an onset edited (issue 27): that video's store alone is rebuilt, and as
    # its content changed, every fold trains again.
    snakemake(work, "--cores", "2")
    folds = sorted(p.name for p in (work / "results/tiny/folds").iterdir())
    models = {f: (work / "results/tiny/folds" / f / "model.pt").stat().st_mtime_ns for f in folds}
    second = one_per_subject.iloc[1]
    coding = pd.read_excel(root / "CASME2-coding-20140508.xlsx")
    coding.loc[(coding.Subject == int(second.subject[3:])) & (coding.Filename == second.video), "OnsetFrame"] += 1
    write_excel(root / "CASME2-coding-20140508.xlsx", [CASME2_HEADER] + coding.values.tolist())
    out = snakemake(work, "--cores", "2")
    assert re.findall(PREPROCESS_JOB, out) == [second.subject], out[-3000:]
    assert len(folds) == 3 and all((work / "results/tiny/folds" / f / "model.pt").stat().st_mtime_ns > t for f, t in models.items())


def test_a_clip_index_pointing_past_its_store_is_refused_naming_the_file_and_row(small_stores, small_videos, tmp_path, capsys):
    """Issue 27: an index edited by hand or written by another version is checked against its
    stores before training (or the report's examples) reads a frame of another video."""
    from mol_core.clips.index import check_clip_index, index_problems
    from mol_core.train.loop import main as train_main

    clips, _ = build_clip_index(small_videos, markers_of(small_stores), SMALL_PREPARATION)
    assert index_problems(clips, 5) == []
    bad = clips.copy()
    n_frames = open_store(bad.store.iloc[3])["frames"].shape[0]
    bad.at[3, "frames"] = [f + n_frames for f in bad.frames.iloc[3]]
    bad.at[5, "pair_rows"] = list(reversed(bad.pair_rows.iloc[5]))
    bad.at[7, "label"] = 9
    problems = index_problems(bad, 5)
    assert [p.split(":")[0] for p in problems] == [
        f"row {i} ({bad.subject.iloc[i]}/{bad.video.iloc[i]} clip {bad['clip'].iloc[i]})" for i in (3, 5, 7)
    ]
    assert f"frame {max(bad.frames.iloc[3])} outside its store's {n_frames} frames" in problems[0]
    assert "are not the pairs of its frames" in problems[1] and "label 9 outside the 5 classes" in problems[2]
    path = tmp_path / "clips.parquet"
    bad.to_parquet(path)
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: 3 row\(s\) do not match what they point to: row 3 "):
        check_clip_index(bad, path, 5)
    names = '["happiness", "disgust", "repression", "surprise", "others"]'
    code = train_main(
        ["--clips", str(path), "--fold", "sub01", "--out", str(tmp_path / "fold"), "--class-names", names, "--settings", '{"steps": 1}']
    )
    assert code == 1 and f"{path}: 3 row(s) do not match" in capsys.readouterr().err
    assert not (tmp_path / "fold" / "model.pt").exists()
    gone = clips.copy()
    gone.loc[gone.video == gone.video.iloc[0], "store"] = str(tmp_path / "nowhere.zarr")
    assert "absent" in index_problems(gone)[0]


def test_readers_of_a_complete_cache_write_nothing_so_a_read_only_cache_serves(small_stores, small_videos, tmp_path):
    """Issue 27: reusing a store and its flow takes no lock (stores are written whole and
    renamed), so a cache on a read-only file system serves predictions and examples."""
    from mol_core.preprocess.video import build_flow, build_store

    cache = tmp_path / "stores"
    shutil.copytree(small_stores, cache)
    for lock in cache.rglob("*.lock"):
        lock.unlink()
    before = {str(p): p.stat().st_mtime_ns for p in cache.rglob("*")}
    for row in small_videos.itertuples():
        store = cache / row.subject / f"{row.video}.zarr"
        source = {"dataset": row.dataset, "subject": row.subject, "video": row.video}
        made = build_store(list(row.frames), store, PreprocessSettings(), source)
        assert made.reused and made.status == "complete"
        assert build_flow(store, SMALL_SAMPLING, PreprocessSettings()).reused
    assert {str(p): p.stat().st_mtime_ns for p in cache.rglob("*")} == before  # no lock file, nothing touched


def test_a_video_with_a_242_character_name_is_stored_under_a_digest(small_videos, tmp_path):
    """Issue 27: its store's temporary and lock names passed the file system's 255 bytes, and
    the subject's job crashed (`File name too long`)."""
    from mol_core.store.keys import LONGEST_NAME, entry_name, marker_path, video_store

    long = "EP" + "x" * 240
    other = "EP" + "x" * 239 + "y"
    assert entry_name("EP01_01f") == "EP01_01f" and len(entry_name(long).encode()) < LONGEST_NAME
    assert entry_name(long) != entry_name(other) and entry_name(long).startswith("EP" + "x" * 78)
    store = video_store(tmp_path / "stores", "sub01", long)
    row = small_videos.iloc[0]
    made = preprocess_video(list(row.frames), store, PreprocessSettings(), [SMALL_SAMPLING], {"video": long})
    assert made.status == "complete" and open_store(store)["frames"].shape[0] == len(row.frames)
    assert marker_path(tmp_path / "markers" / "sub01", long).name == f"{entry_name(long)}.json"
