"""Shared fixtures: small synthetic datasets made by the project's own generator (real
rendering, real dlib, real TV-L1), reused across tests of one session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from mol_core.clips.preparation import Preparation
from mol_core.clips.sampling import Sampling
from mol_core.datasets import load, records_to_table
from mol_core.preprocess import preprocess_video
from mol_core.store.keys import PreprocessSettings, flow_name
from mol_core.synthetic import SyntheticSettings, generate_dataset

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "resources" / "faces"

torch.set_num_threads(2)

# Noise-free and small: the ground-truth checks compare pixels, so no sensor noise here.
CLEAN = SyntheticSettings(subjects=2, videos_per_class=1, frames=10, pad_frames=1, noise_sigma=0.0, seed=3)
# The pipeline's own kind of data, small: 3 subjects, every class once, t=4 clips.
SMALL = SyntheticSettings(subjects=3, videos_per_class=1, frames=8, pad_frames=1, seed=5)
SMALL_SAMPLING = Sampling(frames=4)
SMALL_FLOW = flow_name(SMALL_SAMPLING, PreprocessSettings())  # the flow's name inside a store
SMALL_PREPARATION = Preparation(PreprocessSettings(), SMALL_SAMPLING)  # how the small stores' clips are made


@pytest.fixture(scope="session")
def clean_dataset(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("clean") / "data", FACES, CLEAN, n_jobs=2, verbose=False)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("small") / "data", FACES, SMALL, n_jobs=2, verbose=False)


@pytest.fixture(scope="session")
def small_videos(small_dataset) -> pd.DataFrame:
    return records_to_table(load("synthetic", small_dataset))


@pytest.fixture(scope="session")
def small_stores(small_videos, tmp_path_factory) -> Path:
    """Preprocessed stores of every video of the small dataset: {root}/{subject}/{video}.zarr."""
    root = tmp_path_factory.mktemp("stores")
    for row in small_videos.itertuples():
        source = {"dataset": row.dataset, "subject": row.subject, "video": row.video}
        preprocess_video(list(row.frames), root / row.subject / f"{row.video}.zarr", PreprocessSettings(), [SMALL_SAMPLING], source, threads=2)
    return root


def markers_of(stores: Path):
    """marker_of(subject, video) for stores made by ``small_stores`` (what the preprocess CLI writes)."""
    from mol_core.preprocess import store_status
    from mol_core.store.markers import Marker

    def marker_of(subject, video):
        path = stores / subject / f"{video}.zarr"
        status, reason = store_status(path)
        return Marker(subject, video, status, str(path), SMALL_FLOW, reason)

    return marker_of
