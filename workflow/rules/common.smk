# Configuration checks and the helpers the rules share (paths, JSON parameters, fold lists).
import json
import os
from functools import cache

import pandas as pd
from snakemake.utils import validate

from mol_core.cache import cache_key, store_path
from mol_core.datasets.labels import class_names

validate(config, "../schemas/config.schema.yaml")

CACHE_DIR = config["cache_dir"]
DATASETS = list(config["datasets"])
EXPERIMENTS = list(config["experiments"])
SYNTHETIC_ROOT = config["synthetic"]["root"]
ENV = "../../envs/mol.yaml"

for _name, _exp in config["experiments"].items():
    if _exp["dataset"] not in config["datasets"]:
        raise ValueError(f"config.yaml: experiment {_name!r} uses dataset {_exp['dataset']!r}, "
                         f"which is not under datasets: ({', '.join(DATASETS)})")
    if _name in config["datasets"]:
        raise ValueError(f"config.yaml: experiment {_name!r} has the name of a dataset; "
                         "both write under results/<name>/, so rename one")


wildcard_constraints:
    dataset="|".join(DATASETS),
    experiment="|".join(EXPERIMENTS),
    subject=r"[^/]+",
    video=r"[^/]+",
    fold=r"[^/]+",


def as_json(value):
    """A JSON argument for the shell (quote it with {params.x:q})."""
    return json.dumps(value, sort_keys=True)


def dataset_config(dataset):
    return config["datasets"][dataset]


def sampling_list():
    return [config["sampling"]]


def store_key(dataset):
    """Cache key of a dataset's stores: its source and every preprocessing parameter."""
    ds = dataset_config(dataset)
    return cache_key({"loader": ds["loader"], "root": os.path.abspath(ds["root"]),
                      "preprocess": config["preprocess"], "sampling": sampling_list()})


def store_dir(dataset):
    return f"{CACHE_DIR}/{dataset}/{store_key(dataset)}"


@cache
def _read_table(path, mtime):
    return pd.read_parquet(path)


def read_table(path):
    return _read_table(str(path), os.path.getmtime(path))


def videos_of(dataset):
    """The dataset's video table (after the `videos` checkpoint has run)."""
    return read_table(checkpoints.videos.get(dataset=dataset).output[0])


def dataset_stores(wildcards):
    table = videos_of(wildcards.dataset)
    key = store_key(wildcards.dataset)
    return [str(store_path(CACHE_DIR, wildcards.dataset, key, s, v)) for s, v in zip(table.subject, table.video)]


def video_frames(wildcards):
    table = videos_of(wildcards.dataset)
    row = table[(table.subject == wildcards.subject) & (table.video == wildcards.video)]
    if len(row) != 1:
        raise ValueError(f"video {wildcards.subject}/{wildcards.video} is not in dataset {wildcards.dataset}")
    return list(row.iloc[0].frames)


def dataset_source(wildcards):
    """What a dataset's table is built from: the generated folder for the synthetic set."""
    ds = dataset_config(wildcards.dataset)
    if ds["loader"] == "synthetic":
        return [SYNTHETIC_ROOT]
    return [ds["root"]]


def experiment_dataset(experiment):
    return config["experiments"][experiment]["dataset"]


def experiment_class_names(experiment):
    ds = dataset_config(experiment_dataset(experiment))
    return class_names(ds["loader"], ds.get("classes"))


def experiment_folds(experiment):
    """One fold per subject with clips (after the `clips` checkpoint), optionally capped."""
    clips = read_table(checkpoints.clips.get(dataset=experiment_dataset(experiment)).output.clips)
    folds = sorted(clips.subject.unique())
    limit = config["experiments"][experiment].get("max_folds")
    return folds[:limit] if limit else folds


def fold_predictions(wildcards):
    return expand("results/{experiment}/folds/{fold}/predictions.parquet",
                  experiment=wildcards.experiment, fold=experiment_folds(wildcards.experiment))
