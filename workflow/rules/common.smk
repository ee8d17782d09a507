# Configuration checks and the helpers the rules share (paths, JSON parameters, fold lists).
import json
import os
import shlex
import sys
from pathlib import Path
from functools import cache

import pandas as pd
import yaml
from snakemake.utils import validate

from mol_core.store.keys import cache_key, source_fingerprint, store_path
from mol_core.store.markers import marker_problem
from mol_core.datasets.labels import class_names
from mol_core.datasets.sources import coding_files, listing_digest
from mol_core.store.keys import PreprocessSettings, flow_name
from mol_core.clips.sampling import Sampling

validate(config, "../schemas/config.schema.yaml")

REPO = Path(workflow.basedir)
PAPER_RESULTS = REPO / "resources" / "paper_results.yaml"
ABLATION_VARIANTS = REPO / "resources" / "ablations.yaml"
CACHE_DIR = config["cache_dir"]
DATASETS = list(config["datasets"])
RUN = config.get("run") or list(config["experiments"])


def _merged(base, extra):
    """``base`` updated by ``extra``, nested dicts merged."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _expand_ablations():
    """Each variant of `ablations:` becomes an experiment `ablation_<variant>`."""
    spec = config.get("ablations")
    if not spec:
        return {}
    variants = yaml.safe_load(ABLATION_VARIANTS.read_text())
    base = config["experiments"].get(spec["base"])
    if base is None:
        raise ValueError(f"config.yaml: ablations.base {spec['base']!r} is not under experiments:")
    unknown = set(spec.get("variants") or []) - set(variants)
    if unknown:
        raise ValueError(f"config.yaml: unknown ablation variants {sorted(unknown)}; known: {', '.join(variants)}")
    made = {}
    for name in spec.get("variants") or list(variants):
        variant = {k: v for k, v in variants[name].items() if k in ("model", "sampling", "paper")}
        made[f"ablation_{name}"] = _merged({k: v for k, v in base.items() if k != "paper"}, variant)
    return made


ABLATIONS = _expand_ablations()
config["experiments"].update(ABLATIONS)
EXPERIMENTS = list(config["experiments"])
PRETRAIN_FOLD = "all"
SYNTHETIC_ROOT = config["synthetic"]["root"]
ENV = "../../envs/mol.yaml"


def dataset_config(dataset):
    return config["datasets"][dataset]


def dataset_class_names(dataset):
    ds = dataset_config(dataset)
    return class_names(ds["loader"], ds.get("classes"))


def _check_config():
    """Errors a schema cannot express: names that must exist and agree."""
    for name in RUN:
        if name not in config["experiments"]:
            raise ValueError(f"config.yaml: run: lists {name!r}, which is not under experiments: ({', '.join(EXPERIMENTS)})")
    for name, exp in config["experiments"].items():
        used = [exp["dataset"]] + ([exp["test_dataset"]] if exp.get("test_dataset") else [])
        for dataset in used:
            if dataset not in config["datasets"]:
                raise ValueError(f"config.yaml: experiment {name!r} uses dataset {dataset!r}, "
                                 f"which is not under datasets: ({', '.join(DATASETS)})")
        if name in config["datasets"]:
            raise ValueError(f"config.yaml: experiment {name!r} has the name of a dataset; "
                             "both write under results/<name>/, so rename one")
        if (exp.get("protocol") == "cross") != bool(exp.get("test_dataset")):
            raise ValueError(f"config.yaml: experiment {name!r}: protocol cross needs test_dataset, and only it")
        if (exp.get("protocol") == "pretrain") == exp.get("model", {}).get("mer_head", True):
            raise ValueError(f"config.yaml: experiment {name!r}: protocol pretrain goes with model.mer_head: false, and only it")
        if exp.get("paper") and exp["paper"] not in PAPER_KEYS:
            raise ValueError(f"config.yaml: experiment {name!r}: paper: {exp['paper']!r} is not a row of {PAPER_RESULTS}")
        if exp.get("init") and config["experiments"].get(exp["init"], {}).get("protocol") != "pretrain":
            raise ValueError(f"config.yaml: experiment {name!r}: init must name a pretrain experiment, not {exp['init']!r}")
        if exp.get("test_dataset") and dataset_class_names(exp["test_dataset"]) != dataset_class_names(exp["dataset"]):
            raise ValueError(f"config.yaml: experiment {name!r}: the classes of {exp['dataset']} "
                             f"{dataset_class_names(exp['dataset'])} and {exp['test_dataset']} "
                             f"{dataset_class_names(exp['test_dataset'])} differ")
    for name, ds in config["datasets"].items():
        if (ds["loader"] == "composite") != isinstance(ds["root"], dict):
            raise ValueError(f"config.yaml: dataset {name!r}: a composite root is {{casme2: ..., samm: ..., smic: ...}}; "
                             "any other root is a folder")


PAPER_KEYS = set(yaml.safe_load(PAPER_RESULTS.read_text()))
_check_config()


wildcard_constraints:
    dataset="|".join(DATASETS),
    experiment="|".join(EXPERIMENTS),
    subject=r"[^/]+",
    video=r"[^/]+",
    fold=r"[^/]+",
    key=r"[0-9a-f]{12}",
    flow=r"[^/]+-[0-9a-f]{8}",
    sampling=r"[a-z_]+_t\d+",


def as_json(value):
    """A JSON argument for the shell (quote it with {params.x:q})."""
    return json.dumps(value, sort_keys=True)


PREPROCESS = PreprocessSettings.from_dict(config["preprocess"])
DEFAULT_SAMPLING = Sampling(**config["sampling"])


def absolute_root(root):
    return {k: os.path.abspath(v) for k, v in root.items()} if isinstance(root, dict) else os.path.abspath(root)


def store_key(dataset):
    """Cache key of a dataset's stores: its source and every parameter of frames and
    landmarks (flow parameters and the clip sampling name the flow inside a store)."""
    ds = dataset_config(dataset)
    return cache_key({"loader": ds["loader"], "root": absolute_root(ds["root"]), "preprocess": PREPROCESS.store_params()})


def marker_dir(dataset, sampling):
    """Where the preprocessing markers of a dataset's videos go, for one clip sampling."""
    return f"{CACHE_DIR}/{dataset}/{store_key(dataset)}/{flow_name(sampling, PREPROCESS)}"


def sampling_of_flow(flow):
    """The clip sampling a flow name (``uniform_t8-1a2b3c4d``) was made for."""
    return Sampling.from_name(flow.rsplit("-", 1)[0])


def clips_path(dataset, sampling):
    """The clip index of a dataset: results/{dataset}/clips.parquet for the config's sampling,
    results/{dataset}/samplings/{sampling}/clips.parquet for another one."""
    if sampling == DEFAULT_SAMPLING:
        return f"results/{dataset}/clips.parquet"
    return f"results/{dataset}/samplings/{sampling.name}/clips.parquet"


def clips_checkpoint_output(dataset, sampling):
    """The clip index, after its checkpoint has run."""
    if sampling == DEFAULT_SAMPLING:
        return checkpoints.clips.get(dataset=dataset).output.clips
    return checkpoints.clips_sampling.get(dataset=dataset, sampling=sampling.name).output.clips


def dataset_root_argument(dataset):
    root = dataset_config(dataset)["root"]
    return json.dumps(root) if isinstance(root, dict) else root


def coding_option(dataset):
    """``--coding FILE`` (a JSON object for a composite) when the config gives a coding file."""
    coding = dataset_config(dataset).get("coding")
    if not coding:
        return ""
    value = json.dumps(coding) if isinstance(coding, dict) else coding
    return f"--coding {shlex.quote(value)}"


def dataset_roots(dataset):
    root = dataset_config(dataset)["root"]
    return list(root.values()) if isinstance(root, dict) else [root]


def dataset_source(wildcards):
    """What a dataset's table is built from: the generated set, or the root folder(s) and the
    coding file(s) the loader reads (an edited workbook is newer than the table)."""
    ds = dataset_config(wildcards.dataset)
    if ds["loader"] == "synthetic":
        return [SYNTHETIC_ROOT]
    return dataset_roots(wildcards.dataset) + coding_files(ds["loader"], ds["root"], ds.get("coding"))


def dataset_listing(wildcards):
    """A digest of the file names under a dataset's root(s) (a params of the video table: a
    frame file added, removed or renamed replans it). The generated set follows its rule."""
    if dataset_config(wildcards.dataset)["loader"] == "synthetic":
        return ""
    return listing_digest(dataset_roots(wildcards.dataset))


@cache
def _read_table(path, mtime):
    return pd.read_parquet(path)


def read_table(path):
    return _read_table(str(path), os.path.getmtime(path))


def videos_of(dataset):
    """The dataset's video table (after the `videos` checkpoint has run)."""
    return read_table(checkpoints.videos.get(dataset=dataset).output[0])


def drop_stale_marker(path):
    """Delete a marker whose store or flow is gone, partial or damaged (a claim the cache no
    longer backs), so this plan makes the video again; says so on standard error."""
    problem = marker_problem(path) if os.path.exists(path) else None
    if problem:
        os.remove(path)
        print(f"{path}: {problem}; the video will be preprocessed again", file=sys.stderr)


def markers_of(dataset, sampling):
    """The preprocessing markers of a dataset's videos for one clip sampling, stale ones dropped."""
    table = videos_of(dataset)
    markers = [f"{marker_dir(dataset, sampling)}/{s}/{v}.json" for s, v in zip(table.subject, table.video)]
    for marker in markers:
        drop_stale_marker(marker)
    return markers


def dataset_markers(wildcards):
    sampling = Sampling.from_name(wildcards.sampling) if "sampling" in wildcards.keys() else DEFAULT_SAMPLING
    return markers_of(wildcards.dataset, sampling)


def run_markers(wildcards):
    """Every marker the experiments to run stand on, as inputs of `all`: Snakemake does not
    remake a missing intermediate file whose consumers are up to date, but it does remake a
    missing input of the target rule, so a deleted (or dropped) marker replans its video and
    everything downstream of it."""
    experiments = list(RUN) + [experiment_config(e)["init"] for e in RUN if experiment_config(e).get("init")]
    wanted = {(d, experiment_sampling(e)) for e in experiments
              for d in [experiment_dataset(e)] + ([experiment_config(e)["test_dataset"]] if experiment_config(e).get("test_dataset") else [])}
    return [m for dataset, sampling in sorted(wanted, key=str) for m in markers_of(dataset, sampling)]


def video_row(wildcards):
    table = videos_of(wildcards.dataset)
    row = table[(table.subject == wildcards.subject) & (table.video == wildcards.video)]
    if len(row) != 1:
        raise ValueError(f"video {wildcards.subject}/{wildcards.video} is not in dataset {wildcards.dataset}")
    return row.iloc[0]


def video_frames(wildcards):
    return list(video_row(wildcards).frames)


def video_fingerprint(wildcards):
    """The video's sources as its store records them (frame files' paths, sizes and times,
    onset, apex, offset): a params of its job, so a replaced frame or an edited row reruns it."""
    row = video_row(wildcards)
    return source_fingerprint(list(row.frames), {"onset": row.onset, "apex": row.apex, "offset": row.offset})


def experiment_config(experiment):
    return config["experiments"][experiment]


def experiment_dataset(experiment):
    return experiment_config(experiment)["dataset"]


def experiment_class_names(experiment):
    return dataset_class_names(experiment_dataset(experiment))


def experiment_sampling(experiment):
    """The experiment's clip sampling: config's ``sampling`` with its own overrides."""
    return Sampling(**{**config["sampling"], **experiment_config(experiment).get("sampling", {})})


def experiment_clips(experiment):
    """Clip tables a training job reads: the training dataset's, and the test dataset's."""
    exp = experiment_config(experiment)
    sampling = experiment_sampling(experiment)
    tables = {"clips": clips_path(exp["dataset"], sampling)}
    if exp.get("test_dataset"):
        tables["test_clips"] = clips_path(exp["test_dataset"], sampling)
    return tables


def is_pretrain(experiment):
    return experiment_config(experiment).get("protocol") == "pretrain"


def experiment_target(experiment):
    """What `all` builds of an experiment: its metrics, or a pre-training's model."""
    if is_pretrain(experiment):
        return f"results/{experiment}/folds/{PRETRAIN_FOLD}/model.pt"
    return f"results/{experiment}/metrics.csv"


def experiment_examples(experiment):
    """The rendered example predictions of an experiment (none for pre-training, nor for a
    model without one of the heads the pictures show)."""
    model = experiment_config(experiment)["model"]
    if is_pretrain(experiment) or not config["examples"] or not all(model[h] for h in ("mer_head", "flow_head", "landmark_head")):
        return []
    return [f"results/{experiment}/examples/examples.json"]


def experiment_inputs(experiment):
    """What a training job reads: the clip table(s) and, with init, the pre-trained model."""
    exp = experiment_config(experiment)
    inputs = experiment_clips(experiment)
    if exp.get("init"):
        inputs["init"] = f"results/{exp['init']}/folds/{PRETRAIN_FOLD}/model.pt"
    return inputs


def experiment_folds(experiment):
    """LOSO: one fold per subject with clips (after the `clips` checkpoint), optionally
    capped by max_folds. Cross-dataset: one fold, named after the test dataset.
    Pre-training: one fold, `all`."""
    exp = experiment_config(experiment)
    if exp.get("protocol") == "cross":
        return [exp["test_dataset"]]
    if exp.get("protocol") == "pretrain":
        return [PRETRAIN_FOLD]
    clips = read_table(clips_checkpoint_output(exp["dataset"], experiment_sampling(experiment)))
    folds = sorted(clips.subject.unique())
    limit = exp.get("max_folds")
    return folds[:limit] if limit else folds


def fold_predictions(wildcards):
    return expand("results/{experiment}/folds/{fold}/predictions.parquet",
                  experiment=wildcards.experiment, fold=experiment_folds(wildcards.experiment))


def _clip_frames_per_step(experiment):
    train = experiment_config(experiment)["train"]
    return train["steps"], train["batch_size"] * experiment_sampling(experiment).frames


def train_memory_mb(experiment):
    """Host memory of a training job: the clips held in memory and the batches (MB)."""
    _, per_step = _clip_frames_per_step(experiment)
    return 4000 + 20 * per_step


def train_runtime_min(experiment):
    """Wall time a training job may take (minutes): a GPU needs about 15 ms per frame of a
    batch for the full model, forward and backward, plus validation and start-up."""
    steps, per_step = _clip_frames_per_step(experiment)
    return 20 + int(steps * per_step * 0.015 / 60 * 2)
