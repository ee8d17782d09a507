"""The workflow's plan (mol_core.workflow_plan) beyond the config checks of
test_workflow_config: marker folders, folds, sources and arguments of the jobs; and what the
jobs stand on on disk (mol_core.workflow_inputs): subjects' rows, files, fingerprints and the
markers that no longer hold. Without Snakemake."""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest

from mol_core.clips.sampling import Sampling
from mol_core.store.keys import PreprocessSettings, flow_name
from mol_core.store.markers import Marker
from mol_core.workflow_inputs import drop_stale_markers, read_table, stale_marker, subject_files, subject_fingerprint, subject_rows
from mol_core.workflow_plan import PRETRAIN_FOLD, WorkflowPlan, as_json, one_of

from .conftest import REPO, SMALL_FLOW
from .helpers import plan_config as config


def test_the_plan_of_the_repository_adds_the_ablations_and_the_seed_runs():
    c = config(ablations={"base": "tiny", "variants": ["no_f5c"]})
    c["experiments"]["tiny"]["seeds"] = [1, 2]
    plan = WorkflowPlan.of_repository(c, REPO)
    assert plan.ablations == ["ablation_no_f5c"] and plan.seeded_experiments() == ["tiny", "ablation_no_f5c"]
    assert set(plan.experiments()) == {"tiny", "ablation_no_f5c", "tiny_seed1", "tiny_seed2", "ablation_no_f5c_seed1", "ablation_no_f5c_seed2"}
    assert "ablation_no_f5c" not in c["experiments"]  # the given config is left as it was
    assert plan.datasets() == ["synthetic"] and plan.default_sampling == Sampling(8)


def test_marker_folders_are_named_by_store_key_and_flow_for_each_planned_sampling():
    c = config(preprocess={"flow": {"nscales": 3}})
    c["experiments"]["pairs"] = {**c["experiments"]["tiny"], "sampling": {"frames": 2, "scheme": "onset_apex"}}
    plan = WorkflowPlan(c)
    settings = PreprocessSettings(flow={"nscales": 3})
    for sampling in (Sampling(8), Sampling(2, "onset_apex")):
        assert plan.marker_dir("synthetic", sampling) == f"cache/synthetic/{plan.store_key('synthetic')}/{flow_name(sampling, settings)}"
    assert plan.marker_samplings() == sorted([("synthetic", Sampling(8)), ("synthetic", Sampling(2, "onset_apex"))], key=str)
    assert json.loads(plan.preprocess_json("synthetic")) == {"flow": {"nscales": 3}}


def test_folds_are_subjects_with_clips_capped_datasets_or_the_one_pretraining_fold():
    c = config()
    c["experiments"]["tiny"]["max_folds"] = 2
    asked = []

    def subjects(dataset, sampling):
        asked.append((dataset, sampling))
        return pd.Series(["s3", "s1", "s2", "s1"])

    assert WorkflowPlan(c).experiment_folds("tiny", subjects) == ["s1", "s2"]
    assert asked == [("synthetic", Sampling(8))]
    del c["experiments"]["tiny"]["max_folds"]
    assert WorkflowPlan(c).experiment_folds("tiny", subjects) == ["s1", "s2", "s3"]
    c["datasets"]["other"] = {"loader": "casme2", "root": "/data/casme2", "classes": 5}
    c["experiments"]["x"] = {"dataset": "synthetic", "test_dataset": "other", "protocol": "cross"}
    c["experiments"]["pre"] = {"dataset": "synthetic", "protocol": "pretrain"}
    never = lambda dataset, sampling: pytest.fail("no clip index is read for these")  # noqa: E731
    assert WorkflowPlan(c).experiment_folds("x", never) == ["other"]
    assert WorkflowPlan(c).experiment_folds("pre", never) == [PRETRAIN_FOLD]


def test_a_loso_training_job_trains_folds_per_gpu_folds_and_asks_memory_for_each():
    c = config()
    alone = WorkflowPlan(c).train_memory_mb("tiny")
    c["experiments"]["tiny"]["train"]["folds_per_gpu"] = 3
    c["datasets"]["other"] = {"loader": "casme2", "root": "/data/casme2", "classes": 5}
    c["experiments"]["x"] = {"dataset": "synthetic", "test_dataset": "other", "protocol": "cross", "train": {"folds_per_gpu": 3}}
    c["experiments"]["pre"] = {"dataset": "synthetic", "protocol": "pretrain", "train": {"folds_per_gpu": 3}}
    plan = WorkflowPlan(c)
    assert plan.folds_per_job("tiny") == 3 and plan.train_memory_mb("tiny") == 3 * alone
    assert plan.folds_per_job("x") == plan.folds_per_job("pre") == 1  # one fold of its kind: no companions


def test_arguments_of_the_data_jobs(tmp_path):
    c = config()
    c["synthetic"] = {"root": "data/synthetic", "faces": "faces.npz", "subjects": 3, "extra_root": None}
    root = tmp_path / "CASME2"
    (root / "CASME2_RAW_selected" / "sub01" / "EP01").mkdir(parents=True)
    (root / "CASME2-coding-20140508.xlsx").write_bytes(b"")
    c["datasets"]["casme2"] = {"loader": "casme2", "root": str(root), "classes": 5}
    c["datasets"]["megc"] = {"loader": "composite", "root": {"casme2": str(root), "samm": "/s", "smic": "/m"}, "classes": 3}
    plan = WorkflowPlan(c)
    assert json.loads(plan.synthetic_json()) == {"subjects": 3}
    assert plan.root_argument("casme2") == str(root) and json.loads(plan.root_argument("megc"))["samm"] == "/s"
    assert plan.dataset_source("synthetic") == ["data/synthetic"] and plan.dataset_listing("synthetic") == ""
    assert plan.dataset_source("casme2") == [str(root), str(root / "CASME2-coding-20140508.xlsx")]
    listing = plan.dataset_listing("casme2")
    (root / "CASME2_RAW_selected" / "sub01" / "EP01" / "img1.jpg").write_bytes(b"x")
    assert plan.dataset_listing("casme2") != listing  # a file added replans the table


def test_json_arguments_and_wildcard_constraints():
    assert as_json({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    pattern = one_of(["casme2_5", "a.b"])
    assert re.fullmatch(pattern, "a.b") and not re.fullmatch(pattern, "aXb") and not re.fullmatch(pattern, "casme2")
    assert not re.fullmatch(one_of([]), "")


def test_a_subject_of_the_video_table_its_files_and_fingerprint(small_videos, tmp_path):
    subject = small_videos.subject.iloc[0]
    rows = subject_rows(small_videos, "synthetic", subject)
    assert len(rows) == (small_videos.subject == subject).sum()
    with pytest.raises(ValueError, match="subject nobody is not in dataset synthetic"):
        subject_rows(small_videos, "synthetic", "nobody")
    assert subject_files(rows) == sorted({f for frames in rows.frames for f in frames})
    fingerprint = subject_fingerprint(rows)
    assert [part.split(":")[0] for part in fingerprint.split()] == list(rows.video)
    edited = rows.copy()
    edited.loc[edited.index[0], "offset"] -= 1  # an edited coding row
    changed = subject_fingerprint(edited).split()
    assert changed[0] != fingerprint.split()[0] and changed[1:] == fingerprint.split()[1:]


def test_tables_are_read_again_once_rewritten(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    assert read_table(path).a.tolist() == [1]
    pd.DataFrame({"a": [2]}).to_parquet(path)
    os.utime(path, ns=(1, 10**18))
    assert read_table(path).a.tolist() == [2]


def test_stale_markers_are_named_and_dropped_but_not_in_a_dry_run(small_stores, small_videos, tmp_path, capsys):
    subject = small_videos.subject.iloc[0]
    videos = list(small_videos[small_videos.subject == subject].video)
    folder = tmp_path / "markers" / subject
    folder.mkdir(parents=True)
    for video in videos:
        Marker(subject, video, "complete", str(small_stores / subject / f"{video}.zarr"), SMALL_FLOW).write(folder / f"{video}.json")
    assert stale_marker(str(folder), videos) is None and stale_marker(str(tmp_path / "none"), videos) is None
    Marker(subject, videos[1], "complete", str(tmp_path / "gone.zarr"), SMALL_FLOW).write(folder / f"{videos[1]}.json")
    marker, why = stale_marker(str(folder), videos)
    assert marker == str(folder / f"{videos[1]}.json") and "gone.zarr" in why
    assert drop_stale_markers(str(folder), videos, dry_run=True) and folder.is_dir()
    assert "not this dry run, which changes nothing" in capsys.readouterr().err
    assert drop_stale_markers(str(folder), videos, dry_run=False) and not folder.exists()
    assert "its subject's job reruns" in capsys.readouterr().err
    folder.mkdir()
    assert stale_marker(str(folder), videos) == (str(folder / f"{videos[0]}.json"), "marker missing")
