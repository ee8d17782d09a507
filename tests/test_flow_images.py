"""Flow images for other repositories (onset->apex, apex->offset u, v, optical strain):
direction against the synthetic's exact motion, strain and normalisation on known arrays,
the size parameter, reuse of the cache and the command line."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import zarr

from mol_core.clips.sampling import Sampling
from mol_core.preprocess import build_flow, open_store, preprocess_video
from mol_core.preprocess.flow_images import (
    AT_OFFSET,
    AT_ONSET,
    INDEX_COLUMNS,
    MIDDLE,
    apex_pairs_name,
    choose_apex,
    dataset_flow_images,
    ensure_apex_flow,
    flow_features,
    main,
    minmax_uint8,
    optical_strain,
    write_png,
)
from mol_core.store.keys import PreprocessSettings, flow_name

from .conftest import SMALL, SMALL_SAMPLING, markers_of
from .helpers import small_truth

# One transform per video: these tests check the direction of an expression's motion, and a
# per-frame alignment moves the whole crop with the mouth corners (two of its five points;
# docs/results/2026-12-04-alignment.md), which is not what they are about.
SETTINGS = PreprocessSettings(align="per_video")


@pytest.fixture(scope="module")
def stores(small_videos, tmp_path_factory):
    """The small dataset's stores, aligned per video (SETTINGS), with the t=4 flow."""
    root = tmp_path_factory.mktemp("flow_image_stores")
    for row in small_videos.itertuples():
        source = {"dataset": row.dataset, "subject": row.subject, "video": row.video}
        preprocess_video(list(row.frames), root / row.subject / f"{row.video}.zarr", SETTINGS, [SMALL_SAMPLING], source, threads=2)
    return root


@pytest.fixture(scope="module")
def images(stores, small_videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("flow_images") / "flow_images_28"
    index = dataset_flow_images(small_videos, markers_of(stores), out, 28, SETTINGS, threads=2, log=lambda _: None)
    return out, index


def test_strain_of_analytic_flows():
    y, x = np.mgrid[0:40, 0:50].astype(np.float64)
    translation = np.stack([np.full_like(x, 2.3), np.full_like(x, -1.1)])
    assert np.abs(optical_strain(translation)).max() < 1e-12
    rotation = 0.01 * np.stack([-(y - 20), x - 25])  # infinitesimal rotation: no strain either
    assert np.abs(optical_strain(rotation)).max() < 1e-12
    stretch = np.stack([0.05 * x, np.zeros_like(x)])  # e_xx = 0.05
    assert optical_strain(stretch) == pytest.approx(np.full(x.shape, 0.05))
    shear = np.stack([0.04 * y, np.zeros_like(x)])  # e_xy = 0.02 -> sqrt(2 * 0.02^2)
    assert optical_strain(shear) == pytest.approx(np.full(x.shape, np.sqrt(2) * 0.02))


def test_png_minmax_normalisation_is_exact(tmp_path):
    features = np.array(
        [
            [[-2.0, 0.0], [1.0, 2.0]],  # u: min -2, max 2
            [[0.5, 0.5], [0.5, 0.5]],  # v: constant -> 0
            [[0.0, 0.1], [0.2, 0.4]],
        ]
    )  # strain
    expected = np.stack([[[0, 128], [191, 255]], [[0, 0], [0, 0]], [[0, 64], [128, 255]]], -1)
    rgb = minmax_uint8(features)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert np.array_equal(rgb, expected)
    write_png(tmp_path / "x.png", rgb)
    back = cv2.imread(str(tmp_path / "x.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]  # file holds R=u, G=v, B=strain
    assert np.array_equal(back, expected)


@pytest.mark.parametrize("size", [28, 128])
def test_size_and_units_of_the_features(size):
    flow = np.stack([np.full((144, 144), 3.6, np.float32), np.full((144, 144), -1.44, np.float32)])
    features = flow_features(flow, size)
    assert features.shape == (3, size, size) and features.dtype == np.float32
    assert features[0] == pytest.approx(np.full((size, size), 3.6 * size / 144), abs=1e-5)  # pixels of the output
    assert features[1] == pytest.approx(np.full((size, size), -1.44 * size / 144), abs=1e-5)
    assert np.abs(features[2]).max() < 1e-6


def test_onset_apex_flow_moves_the_way_the_truth_does(images, stores, small_videos, small_dataset):
    """Happiness (AU12): the mouth corners go up (v < 0 in image axes) and outwards on the
    way to the apex and come back on the way to the offset; the flow agrees with the exact
    motion where the face moves."""
    out, index = images
    name = apex_pairs_name(SETTINGS)
    checked = 0
    for row in small_videos[small_videos.emotion == "happiness"].itertuples():
        store = open_store(stores / row.subject / f"{row.video}.zarr")
        flows = store[f"flow/{name}"][:].astype(np.float64)
        pairs = store[f"pairs/{name}"][:]
        n = store["frames"].shape[0]
        assert pairs.tolist() == [[0, row.apex - row.onset], [row.apex - row.onset, n - 1]]
        truth = small_truth(small_dataset, row, store, pairs)["flow"]
        corners = store["landmarks"][0][[48, 54]]
        for (x, y), outward in zip(np.round(corners).astype(int), (-1, 1), strict=True):
            window = (slice(None), slice(y - 4, y + 5), slice(x - 4, x + 5))
            rise, fall = flows[0][window].mean((1, 2)), flows[1][window].mean((1, 2))
            exact = truth[0][window].mean((1, 2))
            assert exact[1] < -0.5 and outward * exact[0] > 0  # the synthetic's own convention
            assert rise[1] < -0.5 and outward * rise[0] > 0.1, (row.video, rise, exact)
            assert fall[1] > 0.5 and outward * fall[0] < -0.1, (row.video, fall)
        magnitude = np.linalg.norm(truth[0], axis=0)
        moving = magnitude > 0.5
        assert (flows[0] * truth[0]).sum(0)[moving].mean() / magnitude[moving].mean() ** 2 > 0.5
        # The PNG and the array of the video hold the same flow, resized.
        saved = np.load(out / row.subject / row.video / "onset_apex.npy")
        assert saved == pytest.approx(flow_features(store[f"flow/{name}"][0], 28), abs=1e-6)
        checked += 1
    assert checked == SMALL.subjects


def test_index_files_and_normalisation(images, small_videos):
    out, index = images
    assert len(index) == len(small_videos) and (index.status == "complete").all()
    assert (index.apex_source == "annotated").all()
    assert (index.apex == small_videos.apex.to_numpy() - small_videos.onset.to_numpy()).all()
    saved = pd.read_csv(out / "index.csv")
    assert saved.columns.tolist() == INDEX_COLUMNS and saved.apex.tolist() == index.apex.tolist()
    for row in index.itertuples():
        files = row.files.split(";")
        assert files == [f"{row.subject}/{row.video}/{k}.{e}" for k in ("onset_apex", "apex_offset") for e in ("png", "npy")]
        for kind in ("onset_apex", "apex_offset"):
            array = np.load(out / row.subject / row.video / f"{kind}.npy")
            png = cv2.imread(str(out / row.subject / row.video / f"{kind}.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
            assert array.shape == (3, 28, 28) and array.dtype == np.float32 and png.shape == (28, 28, 3)
            assert np.array_equal(png, minmax_uint8(array))
            assert png.min(axis=(0, 1)).tolist() == [0, 0, 0] and png.max(axis=(0, 1)).tolist() == [255, 255, 255]


def test_only_missing_pairs_are_computed(stores, small_videos, tmp_path):
    row = small_videos.iloc[1]
    store = tmp_path / "v.zarr"
    shutil.copytree(stores / row.subject / f"{row.video}.zarr", store)
    for sub in ("flow", "pairs"):  # the images fixture may have added the apex flow already
        shutil.rmtree(store / sub / apex_pairs_name(SETTINGS), ignore_errors=True)
    for sub in ("flow", "pairs"):  # only the uniform flow is left
        assert sorted(p.name for p in (store / sub).iterdir() if p.is_dir()) == [flow_name(Sampling(4), SETTINGS)]
    apex = int(row.apex - row.onset)
    onset_apex = Sampling(2, "onset_apex")
    build_flow(store, onset_apex, SETTINGS, apex_index=apex)
    first = ensure_apex_flow(store, SETTINGS, apex)
    assert first.computed + first.copied == 2 and first.copied >= 1  # (0, apex) came from onset_apex_t2
    group = open_store(store)
    name = apex_pairs_name(SETTINGS)
    assert np.array_equal(group[f"flow/{name}"][0], group[f"flow/{flow_name(onset_apex, SETTINGS)}"][0])
    flows_before = sorted(p.name for p in (store / "flow").iterdir())
    stamp = (store / "flow" / name / "zarr.json").stat().st_mtime_ns
    again = ensure_apex_flow(store, SETTINGS, apex)
    assert again.computed == 0 and again.copied == 0
    assert sorted(p.name for p in (store / "flow").iterdir()) == flows_before
    assert (store / "flow" / name / "zarr.json").stat().st_mtime_ns == stamp
    assert zarr.open_array(str(store / "flow" / name)).attrs["complete"] is True


def test_an_apex_coded_at_the_onset_or_offset_is_estimated_and_says_so():
    """Never a zero onset->apex (or apex->offset) flow marked as annotated."""
    assert choose_apex(11, 4) == (4, "annotated")
    assert choose_apex(11, 0) == (5, AT_ONSET)  # 55 CAS(ME)^3 MEs, CASME II sub05/EP09_05f
    assert choose_apex(11, 10) == (5, AT_OFFSET)
    assert choose_apex(11, None) == (5, MIDDLE) and choose_apex(11, 12) == (5, MIDDLE)
    assert choose_apex(2, 1) == (0, AT_OFFSET)


def test_command_line_middle_frame_and_size(stores, small_videos, tmp_path, capsys):
    """SMIC-like videos (no apex) use the middle frame and say so; --size 128; errors name files."""
    videos = small_videos.iloc[:2].copy()
    videos["apex"] = pd.array([pd.NA, videos.apex.iloc[1]], dtype="Int64")
    table, markers = tmp_path / "videos.parquet", tmp_path / "markers"
    videos.to_parquet(table)
    marker_of = markers_of(stores)
    for row in videos.itertuples():
        (markers / row.subject).mkdir(parents=True, exist_ok=True)
        marker_of(row.subject, row.video).write(markers / row.subject / f"{row.video}.json")
    out = tmp_path / "flow_images_128"
    assert main(["--videos", str(table), "--markers", str(markers), "--out", str(out), "--size", "128"]) == 0
    index = pd.read_csv(out / "index.csv")
    n = open_store(stores / videos.subject.iloc[0] / f"{videos.video.iloc[0]}.zarr")["frames"].shape[0]
    assert index.apex_source.tolist() == [MIDDLE, "annotated"]
    assert index.apex.tolist() == [(n - 1) // 2, int(videos.apex.iloc[1] - videos.onset.iloc[1])]
    assert np.load(out / videos.subject.iloc[0] / videos.video.iloc[0] / "apex_offset.npy").shape == (3, 128, 128)
    assert main(["--videos", str(table), "--markers", str(tmp_path / "nowhere"), "--out", str(out)]) == 1
    assert "nowhere: marker folder not found" in capsys.readouterr().err
    (markers / videos.subject.iloc[1] / f"{videos.video.iloc[1]}.json").unlink()
    assert main(["--videos", str(table), "--markers", str(markers), "--out", str(out)]) == 1
    assert f"{videos.video.iloc[1]}.json: preprocessing marker missing" in capsys.readouterr().err
