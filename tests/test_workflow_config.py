"""The workflow's config semantics (mol_core.workflow_config), checked without Snakemake:
ablation expansion, cross-checks, merged settings, targets and resource formulas."""

from __future__ import annotations

import copy

import pytest
import yaml

from mol_core import workflow_config as cfg
from mol_core import workflow_plan
from mol_core.clips.sampling import Sampling
from mol_core.errors import ConfigError, MolError
from mol_core.workflow_plan import WorkflowPlan

from .conftest import REPO
from .helpers import plan_config

VARIANTS = yaml.safe_load((REPO / "resources" / "ablations.yaml").read_text())
PAPER_KEYS = set(yaml.safe_load((REPO / "resources" / "paper_results.yaml").read_text()))


config = plan_config  # one synthetic dataset, one LOSO experiment


def test_ablations_expand_into_experiments_trained_like_the_base():
    c = config(ablations={"base": "tiny", "variants": ["no_ofe_fld", "onset_apex"]})
    made = cfg.ablation_experiments(c, VARIANTS)
    assert list(made) == ["ablation_no_ofe_fld", "ablation_onset_apex"]
    no_aux = made["ablation_no_ofe_fld"]
    assert no_aux["model"] == {"flow_width": 0.125, "fusion": "subtract", "mer_head": True, "flow_head": False, "landmark_head": False}
    assert no_aux["paper"] == "table8_no_ofe_fld" and no_aux["train"] == c["experiments"]["tiny"]["train"]
    assert made["ablation_onset_apex"]["sampling"] == {"frames": 2, "scheme": "onset_apex"}
    assert "paper" not in made["ablation_onset_apex"]["model"]
    assert len(cfg.ablation_experiments(config(ablations={"base": "tiny"}), VARIANTS)) == len(VARIANTS)
    assert cfg.ablation_experiments(config(), VARIANTS) == {}


def test_resolving_returns_a_new_config_and_leaves_the_given_one_alone():
    c = config(ablations={"base": "tiny", "variants": ["no_fld"]})
    before = copy.deepcopy(c)
    resolved = WorkflowPlan.from_config(c, VARIANTS, PAPER_KEYS).config
    assert c == before
    assert set(resolved["experiments"]) == {"tiny", "ablation_no_fld"}
    resolved["experiments"]["ablation_no_fld"]["model"]["knn"] = 9
    assert "knn" not in c["experiments"]["tiny"]["model"]  # no shared nested dicts


def test_merged_is_a_deep_merge_into_a_new_dict():
    base = {"model": {"a": 1, "b": {"c": 2}}, "x": [1]}
    out = cfg.merged(base, {"model": {"b": {"d": 3}}, "y": 4})
    assert out == {"model": {"a": 1, "b": {"c": 2, "d": 3}}, "x": [1], "y": 4}
    out["x"].append(2)
    assert base == {"model": {"a": 1, "b": {"c": 2}}, "x": [1]}


def broken(**changes) -> dict:
    c = config()
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = c
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return c


@pytest.mark.parametrize(
    ("c", "key"),
    [
        (config(ablations={"base": "nope"}), "ablations.base"),
        (config(ablations={"base": "tiny", "variants": ["no_fld", "bogus"]}), "ablations.variants"),
        (config(run=["tiny", "missing"]), "run[1]"),
        (broken(experiments__tiny__dataset="casme2"), "experiments.tiny.dataset"),
        (broken(experiments__synthetic={"dataset": "synthetic"}), "experiments.synthetic"),
        (broken(experiments__tiny__protocol="cross"), "experiments.tiny.protocol"),
        (broken(experiments__tiny__model__mer_head=False, experiments__tiny__train__select_on="val_acc"), "experiments.tiny.train.select_on"),
        (
            broken(experiments__tiny__model__mer_head=False, experiments__tiny__train__selection=["validation", "test_fold"]),
            "experiments.tiny.train.selection",
        ),
        (broken(experiments__tiny__paper=["table8_mol", "table99"]), "experiments.tiny.paper"),
        (
            broken(
                datasets__wild={"loader": "folder", "root": "/data/wild", "classes": 1},
                experiments__tiny__dataset="wild",
                experiments__tiny__protocol="pretrain",
            ),
            "experiments.tiny.model.mer_head",
        ),
        (broken(experiments__tiny__paper="table99"), "experiments.tiny.paper"),
        (broken(experiments__tiny__init="tiny"), "experiments.tiny.init"),
        (
            broken(
                datasets__smic={"loader": "smic", "root": "/data/SMIC"},
                experiments__tiny__protocol="cross",
                experiments__tiny__test_dataset="smic",
            ),
            "experiments.tiny.test_dataset",
        ),
        (broken(datasets__megc={"loader": "composite", "root": "/data"}), "datasets.megc.root"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_config_problems_are_config_errors_naming_the_key(c, key):
    with pytest.raises(ConfigError) as raised:
        WorkflowPlan.from_config(c, VARIANTS, PAPER_KEYS)
    assert f"{key}:" in str(raised.value)
    assert isinstance(raised.value, MolError) and isinstance(raised.value, ValueError)


def test_a_good_config_passes_every_check():
    c = config(
        run=["tiny"],
        datasets={
            "synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 5},
            "casme2_5": {"loader": "casme2", "root": "/data/CASME2", "classes": 5},
            "wild": {"loader": "folder", "root": "/data/wild", "classes": 1},
        },
    )
    c["experiments"]["pre"] = {"dataset": "wild", "protocol": "pretrain", "model": {"mer_head": False}}
    c["experiments"]["tiny"]["init"] = "pre"
    WorkflowPlan(c).check_config(PAPER_KEYS)


def test_the_way_to_a_pretraining_goes_first():
    """Every fold waits for the pre-training: its dataset's jobs and its training get the
    higher Snakemake priority; a pre-training nobody runs or inits from changes nothing."""
    c = config(run=["tiny"], datasets={**config()["datasets"], "wild": {"loader": "folder", "root": "/data/wild", "classes": 1}})
    c["experiments"]["pre"] = {"dataset": "wild", "protocol": "pretrain", "model": {"mer_head": False}}
    assert [WorkflowPlan(c).dataset_priority(d) for d in ("wild", "synthetic")] == [0, 0]
    c["experiments"]["tiny"]["init"] = "pre"
    assert [WorkflowPlan(c).dataset_priority(d) for d in ("wild", "synthetic")] == [1, 0]
    assert [WorkflowPlan(c).experiment_priority(e) for e in ("pre", "tiny")] == [1, 0]


def test_table_options_carry_the_coding_file_and_the_windows():
    c = config()
    c["datasets"]["wild"] = {"loader": "affwild2", "root": "/data/aw", "coding": "/data/my annotations"}
    assert WorkflowPlan(c).table_options("synthetic") == ""  # unchanged parameters for a plain dataset
    assert WorkflowPlan(c).table_options("wild") == "--coding '/data/my annotations'"
    c["datasets"]["wild"]["windows"] = {"per_subject": 5, "frames": 16}
    assert WorkflowPlan(c).table_options("wild") == """--coding '/data/my annotations' --windows '{"frames": 16, "per_subject": 5}'"""
    c["datasets"]["casme3"] = {"loader": "casme3", "root": "/data/c3", "exclude": ["occluded_apex", "damaged_frames"], "strict": True}
    assert WorkflowPlan(c).table_options("casme3") == "--exclude occluded_apex damaged_frames --strict"
    c["datasets"]["casme3"]["strict"] = False
    assert WorkflowPlan(c).table_options("casme3") == "--exclude occluded_apex damaged_frames"


def test_experiment_settings_merge_the_sampling():
    c = config()
    c["experiments"]["tiny"]["sampling"] = {"frames": 4}
    assert WorkflowPlan(c).experiment_sampling("tiny") == Sampling(4, "uniform")
    settings = WorkflowPlan(c).experiment_settings("tiny")
    assert settings["sampling"] == {"frames": 4, "scheme": "uniform"} and settings["protocol"] == "loso"
    assert settings["model"] == c["experiments"]["tiny"]["model"] and settings["init"] is None
    settings["model"]["knn"] = 2
    assert "knn" not in c["experiments"]["tiny"]["model"]


def test_targets_and_inputs():
    c = config(
        datasets={
            "synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 5},
            "wild": {"loader": "folder", "root": "/data/wild", "classes": 1},
        }
    )
    c["experiments"]["pre"] = {"dataset": "wild", "protocol": "pretrain", "model": {"mer_head": False}}
    c["experiments"]["tiny"]["init"] = "pre"
    c["experiments"]["tiny"]["sampling"] = {"frames": 4}
    c["run"] = ["tiny"]
    assert WorkflowPlan(c).planned_experiments() == ["tiny", "pre"]
    assert WorkflowPlan(c).default_targets() == [
        "results/summary.md",
        "results/tiny/metrics.csv",
        "results/tiny/examples/examples.json",
        "results/pre/folds/all/model.pt",
    ]
    assert WorkflowPlan(c).experiment_inputs("tiny") == {
        "clips": "results/synthetic/samplings/uniform_t4/clips.parquet",
        "init": "results/pre/folds/all/model.pt",
    }
    assert WorkflowPlan(c).experiment_inputs("pre") == {"clips": "results/wild/clips.parquet"}
    c["examples"] = 0
    assert "results/tiny/examples/examples.json" not in WorkflowPlan(c).default_targets()


def test_labelled_pretraining_of_the_whole_network_then_fine_tuning():
    """The paper's order: the whole network pre-trained on labelled Aff-Wild2, then CASME II
    from its weights; the label-free variant (mer_head: false) stays allowed."""
    c = config(
        datasets={
            "affwild2": {"loader": "affwild2", "root": "/data/Aff-Wild2", "classes": 7},
            "casme2_5": {"loader": "casme2", "root": "/data/CASME2", "classes": 5},
            "wild": {"loader": "folder", "root": "/data/wild", "classes": 1},
        },
        experiments={
            "pre": {"dataset": "affwild2", "protocol": "pretrain", "model": {"mer_head": True}},
            "pre_free": {"dataset": "wild", "protocol": "pretrain", "model": {"mer_head": False}},
            "casme2": {"dataset": "casme2_5", "init": "pre"},
        },
        run=["casme2"],
    )
    WorkflowPlan(c).check_config(PAPER_KEYS)
    assert WorkflowPlan(c).is_pretrain("pre") and WorkflowPlan(c).experiment_class_names("pre") == [
        "neutral",
        "anger",
        "disgust",
        "fear",
        "happiness",
        "sadness",
        "surprise",
    ]
    assert WorkflowPlan(c).planned_experiments() == ["casme2", "pre"]
    assert WorkflowPlan(c).default_targets() == [
        "results/summary.md",
        "results/casme2/metrics.csv",
        "results/casme2/examples/examples.json",
        "results/pre/folds/all/model.pt",
    ]
    assert WorkflowPlan(c).experiment_inputs("casme2") == {"clips": "results/casme2_5/clips.parquet", "init": "results/pre/folds/all/model.pt"}


def test_a_run_of_only_a_pretraining_has_no_summary():
    """A summary of no experiment would call the report without metrics (issue 15, item 7b)."""
    c = config(
        datasets={"wild": {"loader": "folder", "root": "/data/wild", "classes": 1}},
        experiments={"pre": {"dataset": "wild", "protocol": "pretrain", "model": {"mer_head": False}}},
    )
    WorkflowPlan(c).check_config(PAPER_KEYS)
    assert WorkflowPlan(c).evaluated_experiments() == []
    assert WorkflowPlan(c).default_targets() == ["results/pre/folds/all/model.pt"]


def test_cross_dataset_reads_both_clip_tables():
    c = config(
        datasets={"a": {"loader": "casme2", "root": "/a", "classes": 3}, "b": {"loader": "smic", "root": "/b"}},
        experiments={"x": {"dataset": "a", "protocol": "cross", "test_dataset": "b"}},
    )
    WorkflowPlan(c).check_config(PAPER_KEYS)
    assert WorkflowPlan(c).experiment_inputs("x") == {"clips": ["results/a/clips.parquet"], "test_clips": "results/b/clips.parquet"}
    assert WorkflowPlan(c).experiment_datasets("x") == ["a", "b"]
    assert WorkflowPlan(c).dataset_folds("x") == [workflow_plan.DatasetFold(("a",), "b")]  # a cross experiment is one dataset fold
    assert WorkflowPlan(c).test_clips("x") == ["results/b/clips.parquet"]


MEGC_DATASETS = {
    "casme2_3": {"loader": "casme2", "root": "/data/CASME2", "classes": 3},
    "samm_3": {"loader": "samm", "root": "/data/SAMM", "classes": 3},
    "smic": {"loader": "smic", "root": "/data/SMIC"},
    "casme3_3": {"loader": "casme3", "root": "/data/CASME3", "classes": 3},
}


def lodo_config(datasets=("casme2_3", "samm_3", "smic", "casme3_3"), **experiment) -> dict:
    c = config(
        datasets={
            **MEGC_DATASETS,
            "casme2_5": {"loader": "casme2", "root": "/data/CASME2", "classes": 5},
            "samm_5": {"loader": "samm", "root": "/data/SAMM", "classes": 5},
            "megc": {"loader": "composite", "root": {"casme2": "/data/CASME2", "samm": "/data/SAMM", "smic": "/data/SMIC"}},
        }
    )
    c["experiments"] = {
        "lodo": {"protocol": "lodo", "datasets": list(datasets), "model": {"mer_head": True}, "train": {"steps": 10}, **experiment}
    }
    return c


def test_lodo_expands_into_one_fold_per_held_out_dataset():
    c = lodo_config()
    WorkflowPlan.from_config(c, VARIANTS, PAPER_KEYS)
    folds = WorkflowPlan(c).dataset_folds("lodo")
    assert folds == [
        workflow_plan.DatasetFold(("samm_3", "smic", "casme3_3"), "casme2_3"),
        workflow_plan.DatasetFold(("casme2_3", "smic", "casme3_3"), "samm_3"),
        workflow_plan.DatasetFold(("casme2_3", "samm_3", "casme3_3"), "smic"),
        workflow_plan.DatasetFold(("casme2_3", "samm_3", "smic"), "casme3_3"),
    ]
    assert [f.name for f in folds] == ["casme2_3", "samm_3", "smic", "casme3_3"]  # a fold is named after its test set
    for fold in folds:
        assert fold.test not in fold.train  # nothing of the held-out dataset trains or selects the checkpoint
    assert WorkflowPlan(c).experiment_inputs("lodo", "smic") == {
        "clips": ["results/casme2_3/clips.parquet", "results/samm_3/clips.parquet", "results/casme3_3/clips.parquet"],
        "test_clips": "results/smic/clips.parquet",
    }
    assert WorkflowPlan(c).experiment_datasets("lodo") == ["casme2_3", "samm_3", "smic", "casme3_3"]
    assert WorkflowPlan(c).experiment_class_names("lodo") == ["negative", "positive", "surprise"]
    assert WorkflowPlan(c).test_clips("lodo") == [f"results/{d}/clips.parquet" for d in ("casme2_3", "samm_3", "smic", "casme3_3")]
    assert WorkflowPlan(c).default_targets() == ["results/summary.md", "results/lodo/metrics.csv", "results/lodo/examples/examples.json"]
    settings = WorkflowPlan(c).experiment_settings("lodo")
    assert settings["protocol"] == "lodo" and settings["dataset"] is None and settings["datasets"] == c["experiments"]["lodo"]["datasets"]
    with pytest.raises(ConfigError, match="no fold 'casme2_5'"):
        WorkflowPlan(c).experiment_inputs("lodo", "casme2_5")
    assert [f.name for f in WorkflowPlan(lodo_config(max_folds=2)).dataset_folds("lodo")] == ["casme2_3", "samm_3"]
    assert WorkflowPlan(config()).dataset_folds("tiny") == []  # LOSO folds are subjects


def test_lodo_of_two_datasets_and_a_composite_one():
    c = lodo_config(datasets=("megc", "casme3_3"))
    WorkflowPlan(c).check_config(PAPER_KEYS)
    assert WorkflowPlan(c).dataset_folds("lodo") == [
        workflow_plan.DatasetFold(("casme3_3",), "megc"),
        workflow_plan.DatasetFold(("megc",), "casme3_3"),
    ]


def test_an_ablation_of_a_lodo_experiment_is_a_lodo_experiment():
    c = lodo_config()
    c["ablations"] = {"base": "lodo", "variants": ["no_fld"]}
    resolved = WorkflowPlan.from_config(c, VARIANTS, PAPER_KEYS).config
    assert [f.name for f in WorkflowPlan(resolved).dataset_folds("ablation_no_fld")] == ["casme2_3", "samm_3", "smic", "casme3_3"]


@pytest.mark.parametrize(
    ("c", "key", "words"),
    [
        (lodo_config(datasets=("smic",)), "experiments.lodo.datasets", ["at least 2 datasets, got 1"]),
        (lodo_config(datasets=()), "experiments.lodo.datasets", ["at least 2 datasets, got 0"]),
        (lodo_config(datasets=("smic", "casme4")), "experiments.lodo.datasets[1]", ["'casme4' is not under datasets"]),
        (lodo_config(datasets=("smic", "samm_3", "smic")), "experiments.lodo.datasets[2]", ["'smic' is listed twice"]),
        (
            lodo_config(datasets=("casme2_5", "samm_5")),
            "experiments.lodo.datasets[1]",
            [
                "casme2_5 ['happiness', 'disgust', 'repression', 'surprise', 'others']",
                "samm_5 ['happiness', 'anger', 'contempt', 'surprise', 'other']",
                "differ",
            ],
        ),
        (lodo_config(datasets=("smic", "casme2_5")), "experiments.lodo.datasets[1]", ["smic", "casme2_5", "differ"]),
        (
            lodo_config(datasets=("megc", "casme2_3")),
            "experiments.lodo.datasets",
            ["megc and casme2_3 both hold the casme2 videos under /data/CASME2"],
        ),
        (lodo_config(dataset="smic"), "experiments.lodo.dataset", ["not dataset"]),
        (lodo_config(protocol="loso"), "experiments.lodo.protocol", ["protocol lodo takes datasets"]),
        (lodo_config(protocol="cross", test_dataset="smic"), "experiments.lodo.protocol", ["protocol lodo takes datasets"]),
    ],
    ids=["one", "none", "unknown", "twice", "classes", "classes-count", "overlap", "dataset", "loso", "cross"],
)
def test_lodo_problems_are_config_errors_naming_the_key(c, key, words):
    with pytest.raises(ConfigError) as raised:
        WorkflowPlan.from_config(c, VARIANTS, PAPER_KEYS)
    message = str(raised.value)
    assert message.startswith(f"{key}:"), message
    assert all(w in message for w in words), message


def test_a_cross_experiment_testing_its_own_videos_is_refused():
    c = lodo_config()
    c["experiments"] = {"x": {"dataset": "megc", "protocol": "cross", "test_dataset": "casme2_3"}}
    with pytest.raises(ConfigError, match=r"^experiments\.x\.test_dataset: megc and casme2_3 both hold the casme2 videos"):
        WorkflowPlan(c).check_config(PAPER_KEYS)
    c["datasets"]["casme2_3"]["root"] = "/data/CASME2/Cropped"  # the cropped frames of the same videos
    with pytest.raises(ConfigError, match="both hold the casme2 videos"):
        WorkflowPlan(c).check_config(PAPER_KEYS)


def test_resource_formulas():
    c = config()
    # 8 clips of 8 frames a step: 4 GB + 20 MB x 64; 20 min + 100 steps x 64 frames x 30 ms
    assert WorkflowPlan(c).train_memory_mb("tiny") == 4000 + 20 * 64
    assert WorkflowPlan(c).train_runtime_min("tiny") == 20 + int(100 * 64 * 0.03 / 60)
    assert workflow_plan.preprocess_memory_mb(70) == 600 + 4 * 70
    assert workflow_plan.preprocess_runtime_min(70) == 5 + 17


def test_store_key_follows_the_absolute_root_and_the_store_parameters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = config()
    absolute = config(datasets={"synthetic": {"loader": "synthetic", "root": str(tmp_path / "data/synthetic")}})
    assert WorkflowPlan(relative).store_key("synthetic") == WorkflowPlan(absolute).store_key("synthetic")
    assert WorkflowPlan(config(preprocess={"flow": {"nscales": 3}})).store_key("synthetic") == WorkflowPlan(relative).store_key("synthetic")
    assert WorkflowPlan(config(preprocess={"size": 160})).store_key("synthetic") != WorkflowPlan(relative).store_key("synthetic")


def test_clips_path_of_the_default_and_of_another_sampling():
    c = config()
    assert WorkflowPlan(c).clips_path("synthetic", Sampling(8)) == "results/synthetic/clips.parquet"
    assert WorkflowPlan(c).clips_path("synthetic", Sampling(2, "onset_apex")) == "results/synthetic/samplings/onset_apex_t2/clips.parquet"


def test_importing_the_module_loads_neither_opencv_nor_torch():
    from .helpers import loaded_after

    loaded = loaded_after("import mol_core.workflow_plan, mol_core.workflow_inputs")
    assert not {"cv2", "dlib", "torch", "snakemake"} & loaded


def test_a_synthetic_dataset_elsewhere_than_the_generated_set_is_refused(tmp_path, monkeypatch):
    """The workflow generates the synthetic set at synthetic.root; a synthetic-loader dataset
    rooted elsewhere would wait for a folder nothing makes (issue 15, item 7d)."""
    monkeypatch.chdir(tmp_path)
    c = config(datasets={"synthetic": {"loader": "synthetic", "root": "data/other", "classes": 5}})
    with pytest.raises(ConfigError) as raised:
        WorkflowPlan(c).check_config(PAPER_KEYS)
    assert "datasets.synthetic.root" in str(raised.value) and "synthetic.root" in str(raised.value).split("differs", 1)[1]
    assert "'data/other'" in str(raised.value) and "'data/synthetic'" in str(raised.value)
    for same in ("./data/synthetic", "data/synthetic/", str(tmp_path / "data/synthetic")):
        WorkflowPlan(config(datasets={"synthetic": {"loader": "synthetic", "root": same}})).check_config(PAPER_KEYS)


def test_a_folder_inside_the_generated_set_is_made_by_its_rule(tmp_path, monkeypatch):
    """The demo pre-trains on the synthetic set's extra identities (<root>/extra, the folder
    loader): that dataset waits for the synthetic_dataset rule, not for a folder of its own."""
    monkeypatch.chdir(tmp_path)
    c = config(
        datasets={
            "synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 5},
            "extra": {"loader": "folder", "root": "data/synthetic/extra", "classes": 1},
            "beside": {"loader": "folder", "root": "data/synthetic_other", "classes": 1},
        }
    )
    assert WorkflowPlan(c).generated_dataset("extra") and WorkflowPlan(c).generated_dataset("synthetic")
    assert not WorkflowPlan(c).generated_dataset("beside")


def test_extra_identities_in_their_own_folder_have_their_own_job_made_first_for_a_pretraining(tmp_path, monkeypatch):
    """synthetic.extra_root: the extra identities are generated in a job of their own (first,
    when a pre-training reads them), so the pre-training starts before the labelled set is made."""
    monkeypatch.chdir(tmp_path)
    c = config(
        synthetic={"root": "data/synthetic", "extra_root": "data/extra", "extra_subjects": 4},
        datasets={
            "synthetic": {"loader": "synthetic", "root": "data/synthetic", "classes": 5},
            "extra": {"loader": "folder", "root": "data/extra", "classes": 1},
            "old": {"loader": "folder", "root": "data/synthetic/extra", "classes": 1},
        },
    )
    assert WorkflowPlan(c).synthetic_extra_root() == "data/extra"
    assert [WorkflowPlan(c).generated_source(d) for d in ("extra", "old", "synthetic")] == ["data/extra", "data/synthetic", "data/synthetic"]
    assert [WorkflowPlan(c).generation_priority(f) for f in ("data/extra", "data/synthetic")] == [0, 0]
    assert WorkflowPlan(c).labelled_generation_waits_for() == []
    c["experiments"]["pre"] = {"dataset": "extra", "protocol": "pretrain", "model": {"mer_head": False}}
    c["experiments"]["tiny"]["init"] = "pre"
    assert [WorkflowPlan(c).generation_priority(f) for f in ("data/extra", "data/synthetic")] == [1, 0]
    # the labelled set is generated once the pre-training's data are ready (its clip index)
    assert WorkflowPlan(c).labelled_generation_waits_for() == ["results/extra/clips.parquet"]
    c["experiments"]["pre"]["sampling"] = {"frames": 4}
    assert WorkflowPlan(c).labelled_generation_waits_for() == ["results/extra/samplings/uniform_t4/clips.parquet"]
    # without extra identities there is no such job, and the folder is a dataset on disk
    c["synthetic"]["extra_subjects"] = 0
    assert WorkflowPlan(c).synthetic_extra_root() is None and WorkflowPlan(c).generated_source("extra") is None
    assert WorkflowPlan(c).labelled_generation_waits_for() == []
    # nested folders cannot both be a job's whole output
    for nested in ("data/synthetic/extra", "data"):
        bad = config(synthetic={"root": "data/synthetic", "extra_root": nested, "extra_subjects": 4})
        with pytest.raises(ConfigError, match="synthetic.extra_root: .* are nested"):
            WorkflowPlan(bad).check_config(PAPER_KEYS)


def test_the_lock_timeout_goes_to_the_preprocessing_jobs_environment():
    assert WorkflowPlan(config(lock_timeout=600)).lock_timeout_environment() == {"MOL_LOCK_TIMEOUT": "600"}
    assert WorkflowPlan(config(lock_timeout=2.5)).lock_timeout_environment() == {"MOL_LOCK_TIMEOUT": "2.5"}
    assert WorkflowPlan(config(lock_timeout=None)).lock_timeout_environment() == WorkflowPlan(config()).lock_timeout_environment() == {}


def test_seeds_expand_into_one_run_per_seed_and_an_ablation_keeps_them():
    c = config(ablations={"base": "tiny", "variants": ["no_fld"]})
    c["experiments"]["tiny"]["seeds"] = [0, 3]
    c["experiments"]["tiny"]["train"]["seed"] = 7
    resolved = WorkflowPlan.from_config(c, VARIANTS, PAPER_KEYS).config
    runs = ["tiny_seed0", "tiny_seed3", "ablation_no_fld_seed0", "ablation_no_fld_seed3"]
    assert [e for e in resolved["experiments"] if e.endswith(("seed0", "seed3"))] == runs
    assert resolved["experiments"]["tiny_seed3"]["train"] == {"steps": 100, "batch_size": 8, "seed": 3}
    assert "seeds" not in resolved["experiments"]["tiny_seed3"] and resolved["experiments"]["tiny"]["seeds"] == [0, 3]
    assert resolved["experiments"]["ablation_no_fld_seed0"]["model"]["landmark_head"] is False
    assert WorkflowPlan(resolved).seed_runs("tiny") == ["tiny_seed0", "tiny_seed3"] and WorkflowPlan(resolved).seed_runs("tiny_seed0") == [
        "tiny_seed0"
    ]
    # The experiment's target is its pooled report; its examples are its first seed's.
    assert WorkflowPlan(resolved).experiment_target("tiny") == "results/tiny/metrics.csv"
    assert WorkflowPlan(resolved).experiment_examples("tiny") == ["results/tiny_seed0/examples/examples.json"]
    assert WorkflowPlan(resolved).evaluated_experiments() == ["tiny", "ablation_no_fld"]  # not the seed runs


PRETRAIN_WITH_SEEDS = {"dataset": "synthetic", "protocol": "pretrain", "seeds": [0, 1]}


@pytest.mark.parametrize(
    "extra, words",
    [
        ("tiny_seed1", "experiments.tiny_seed1: the name of a seed run of experiments.tiny"),
        ("pre", "experiments.pre.seeds: a pre-training runs once"),
    ],
)
def test_seed_problems_are_config_errors_naming_the_key(extra, words):
    c = config()
    c["experiments"]["tiny"]["seeds"] = [0, 1]
    c["experiments"][extra] = PRETRAIN_WITH_SEEDS if extra == "pre" else dict(c["experiments"]["tiny"])
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        WorkflowPlan.from_config(c, VARIANTS, PAPER_KEYS)
