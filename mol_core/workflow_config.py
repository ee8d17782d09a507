"""What the workflow's config means: ablation and seed expansion, the folds that test whole datasets
(cross-dataset, leave one dataset out: :func:`dataset_folds`), the checks a schema cannot
express, each experiment's merged settings, its targets and inputs, and the resources of its jobs.

Pure functions over the config dict (after schema validation, which fills in the defaults):
none of them changes the dict it is given; :func:`resolve` returns a new one. Problems are
:class:`~mol_core.errors.ConfigError`\\ s whose message names the key. The Snakefile
(``workflow/rules/common.smk``) calls them; nothing here imports Snakemake, OpenCV or torch.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
from dataclasses import dataclass

from .clips.sampling import Sampling
from .datasets.labels import class_names
from .errors import ConfigError
from .store.keys import PreprocessSettings, cache_key
from .store.lock import TIMEOUT_VARIABLE

PRETRAIN_FOLD = "all"  # the one fold of a pre-training
DATASET_PROTOCOLS = ("cross", "lodo")  # protocols whose folds test whole datasets (a fold is named after its test dataset)
ABLATION_KEYS = ("model", "sampling", "paper")  # what a variant of resources/ablations.yaml may set
SEED_SUFFIX = "_seed"  # an experiment with seeds runs as <name>_seed<n>, one per seed


def merged(base: dict, extra: dict) -> dict:
    """A new dict: ``base`` updated by ``extra``, nested dicts merged key by key (a mapping
    over a value that is not one replaces it, as Snakemake merges config files)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        nested = isinstance(value, dict) and isinstance(out.get(key, {}), dict)
        out[key] = merged(out.get(key, {}), value) if nested else copy.deepcopy(value)
    return out


def ablation_experiments(config: dict, variants: dict) -> dict[str, dict]:
    """``ablation_<variant>`` -> its experiment: the ``ablations.base`` experiment (without its
    ``paper`` row) with the variant's ``model``, ``sampling`` and ``paper`` (``variants``:
    resources/ablations.yaml). ``ablations.variants`` picks some; default all."""
    spec = config.get("ablations")
    if not spec:
        return {}
    base = config["experiments"].get(spec["base"])
    if base is None:
        raise ConfigError(f"ablations.base: {spec['base']!r} is not under experiments: ({', '.join(config['experiments'])})")
    chosen = spec.get("variants") or list(variants)
    unknown = [name for name in chosen if name not in variants]
    if unknown:
        raise ConfigError(f"ablations.variants: unknown {', '.join(map(repr, unknown))}; known: {', '.join(variants)}")
    start = {k: v for k, v in base.items() if k != "paper"}
    return {f"ablation_{name}": merged(start, {k: v for k, v in variants[name].items() if k in ABLATION_KEYS}) for name in chosen}


def seed_experiments(experiments: dict[str, dict]) -> dict[str, dict]:
    """``<name>_seed<n>`` -> its experiment, for each experiment with ``seeds`` and each of
    them: a copy with ``train.seed: n`` and without ``seeds``. The experiment itself then
    trains nothing: its report pools the seeds' metrics (mean and std over seeds)."""
    out = {}
    for name, exp in experiments.items():
        for seed in exp.get("seeds") or []:
            out[seed_run_name(name, seed)] = merged({k: v for k, v in exp.items() if k != "seeds"}, {"train": {"seed": seed}})
    return out


def seed_run_name(experiment: str, seed: int) -> str:
    """``<experiment>_seed<n>``: the experiment that trains ``experiment`` with seed n."""
    return f"{experiment}{SEED_SUFFIX}{seed}"


def experiment_seeds(config: dict, experiment: str) -> list[int]:
    """The seeds an experiment runs once each (``seeds``); [] for one ordinary run."""
    return list(config["experiments"][experiment].get("seeds") or [])


def seed_runs(config: dict, experiment: str) -> list[str]:
    """The experiments that train for ``experiment``: its per-seed copies, or itself."""
    seeds = experiment_seeds(config, experiment)
    return [seed_run_name(experiment, seed) for seed in seeds] if seeds else [experiment]


def resolve(config: dict, variants: dict, paper_keys) -> dict:
    """The config the rules read: a copy with the ablation experiments and the per-seed
    experiments added, checked (:func:`check_config`). ``paper_keys``: the rows of
    resources/paper_results.yaml."""
    ablations = ablation_experiments(config, variants)
    clash = sorted(set(ablations) & set(config["experiments"]))
    if clash:
        raise ConfigError(f"experiments.{clash[0]}: the name of an ablation variant of ablations.base; rename it")
    out = copy.deepcopy(config)
    out["experiments"].update(ablations)
    seeded = seed_experiments(out["experiments"])
    clash = sorted(set(seeded) & set(out["experiments"]))
    if clash:
        raise ConfigError(f"experiments.{clash[0]}: the name of a seed run of experiments.{clash[0].rsplit(SEED_SUFFIX, 1)[0]}; rename it")
    out["experiments"].update(seeded)
    check_config(out, paper_keys)
    return out


def run_list(config: dict) -> list[str]:
    """The experiments to build: ``run``, else every one under ``experiments`` but the seed
    runs (their experiment builds them)."""
    return list(config.get("run") or [e for e in config["experiments"] if not seed_run_of(config, e)])


def seed_run_of(config: dict, experiment: str) -> str | None:
    """The experiment whose seed run ``experiment`` is (``<name>_seed<n>``), or None."""
    base, _, seed = experiment.rpartition(SEED_SUFFIX)
    if base in config["experiments"] and seed.isdigit() and int(seed) in experiment_seeds(config, base):
        return base
    return None


def _same_folder(a: str, b: str) -> bool:
    return os.path.normpath(os.path.abspath(a)) == os.path.normpath(os.path.abspath(b))


def check_config(config: dict, paper_keys=()) -> None:
    """The errors a schema cannot express: names that must exist and agree. Raises
    ConfigError naming the key."""
    experiments = config["experiments"]
    for dataset in config.get("datasets") or {}:
        preprocess_settings(config, dataset)  # every dataset's preprocessing is valid
    for i, name in enumerate(config.get("run") or []):
        if name not in experiments:
            raise ConfigError(f"run[{i}]: {name!r} is not under experiments: ({', '.join(experiments)})")
    synthetic = config.get("synthetic") or {}
    if (
        synthetic.get("extra_root")
        and synthetic.get("root")
        and _nested(os.path.abspath(synthetic["extra_root"]), os.path.abspath(synthetic["root"]))
    ):
        raise ConfigError(
            f"synthetic.extra_root: {synthetic['extra_root']!r} and synthetic.root {synthetic['root']!r} are nested; "
            "their two jobs each write a whole folder, so give them separate folders"
        )
    for name, ds in config["datasets"].items():
        _check_dataset(config, name, ds)
    for name, exp in experiments.items():
        _check_experiment(config, name, exp, paper_keys)


def _check_dataset(config: dict, name: str, ds: dict) -> None:
    """A dataset's root: its kind matches the loader, and the synthetic set's is synthetic.root."""
    if (ds["loader"] == "composite") != isinstance(ds["root"], dict):
        raise ConfigError(f"datasets.{name}.root: a composite root is {{casme2: ..., samm: ..., smic: ...}}; any other root is a folder")
    synthetic_root = config.get("synthetic", {}).get("root")
    if ds["loader"] == "synthetic" and synthetic_root and not _same_folder(ds["root"], synthetic_root):
        raise ConfigError(
            f"datasets.{name}.root: {ds['root']!r} differs from synthetic.root {synthetic_root!r}, "
            "where the workflow generates the synthetic set; give both the same folder"
        )


def _check_experiment(config: dict, name: str, exp: dict, paper_keys) -> None:
    """The names an experiment gives (datasets, paper row, init) exist and agree with its protocol."""
    experiments, datasets, key = config["experiments"], config["datasets"], f"experiments.{name}"
    if name in datasets:
        raise ConfigError(f"{key}: has the name of a dataset; both write under results/<name>/, so rename one")
    _check_protocol_keys(key, exp)
    if exp.get("seeds") and exp.get("protocol") == "pretrain":
        raise ConfigError(f"{key}.seeds: a pre-training runs once (give it train.seed); seeds are for evaluated experiments")
    for field in ("dataset", "test_dataset"):
        if exp.get(field) and exp[field] not in datasets:
            raise ConfigError(f"{key}.{field}: {exp[field]!r} is not under datasets: ({', '.join(datasets)})")
    _check_heads(config, key, exp)
    rows = [exp["paper"]] if isinstance(exp.get("paper"), str) else exp.get("paper") or []
    for row in rows:
        if row not in paper_keys:
            raise ConfigError(f"{key}.paper: {row!r} is not a row of resources/paper_results.yaml")
    if exp.get("init") and experiments.get(exp["init"], {}).get("protocol") != "pretrain":
        raise ConfigError(f"{key}.init: must name a pretrain experiment, not {exp['init']!r}")
    if exp.get("protocol") == "lodo":
        _check_lodo_datasets(config, key, exp["datasets"])
    if exp.get("test_dataset"):
        train, test = dataset_class_names(config, exp["dataset"]), dataset_class_names(config, exp["test_dataset"])
        if train != test:
            raise ConfigError(f"{key}.test_dataset: the classes of {exp['dataset']} {train} and {exp['test_dataset']} {test} differ")
        _check_disjoint(config, f"{key}.test_dataset", [exp["dataset"], exp["test_dataset"]])


def _check_protocol_keys(key: str, exp: dict) -> None:
    """The dataset keys each protocol takes: lodo ``datasets``, cross ``dataset`` and
    ``test_dataset``, the others ``dataset``."""
    protocol = exp.get("protocol", "loso")
    if (protocol == "lodo") != ("datasets" in exp):
        raise ConfigError(f"{key}.protocol: protocol lodo takes datasets (a list of datasets), and only it does")
    if (protocol == "lodo") == ("dataset" in exp):
        raise ConfigError(
            f"{key}.dataset: "
            + ("protocol lodo names its datasets under datasets, not dataset" if protocol == "lodo" else "missing (the dataset to train on)")
        )
    if (protocol == "cross") != bool(exp.get("test_dataset")):
        raise ConfigError(f"{key}.protocol: protocol cross needs test_dataset, and only it")


def _check_heads(config: dict, key: str, exp: dict) -> None:
    """Without the MER head (a pre-training, or Tables 14-15's w/o MER) nothing selects or
    reports on classes; with it, a pre-training needs classes."""
    protocol = exp.get("protocol", "loso")
    mer_head = exp.get("model", {}).get("mer_head", True)
    train = exp.get("train", {})
    if not mer_head and train.get("select_on") == "val_acc":
        raise ConfigError(f"{key}.train.select_on: val_acc needs the MER head (model.mer_head: false); use val_loss or last")
    extra = sorted(set(train.get("selection") or []) - {"validation"})
    if not mer_head and extra:
        raise ConfigError(f"{key}.train.selection: {', '.join(extra)} report(s) classes and need the MER head (model.mer_head: false)")
    if protocol == "pretrain" and mer_head and len(dataset_class_names(config, exp["dataset"])) < 2:
        raise ConfigError(
            f"{key}.model.mer_head: a pre-training with the MER head needs a labelled dataset; "
            f"{exp['dataset']} has no classes to learn (set mer_head: false for flow and landmarks only)"
        )


def _check_lodo_datasets(config: dict, key: str, names: list) -> None:
    """A leave-one-dataset-out list: at least two distinct configured datasets, one class
    set (the same class names in the same label order), no videos in common."""
    known = config["datasets"]
    if len(names) < 2:
        raise ConfigError(f"{key}.datasets: protocol lodo needs at least 2 datasets, got {len(names)}")
    for i, dataset in enumerate(names):
        if dataset not in known:
            raise ConfigError(f"{key}.datasets[{i}]: {dataset!r} is not under datasets: ({', '.join(known)})")
        if dataset in names[:i]:
            raise ConfigError(f"{key}.datasets[{i}]: {dataset!r} is listed twice")
    first = dataset_class_names(config, names[0])
    for i, dataset in enumerate(names[1:], 1):
        classes = dataset_class_names(config, dataset)
        if classes != first:
            raise ConfigError(
                f"{key}.datasets[{i}]: the classes of {names[0]} {first} and {dataset} {classes} differ; "
                "every dataset of a lodo experiment needs the same classes in the same order"
            )
    _check_disjoint(config, f"{key}.datasets", names)


def _sources(config: dict, dataset: str) -> list[tuple[str, str]]:
    """(loader, absolute folder) of every part of a dataset (a composite has three)."""
    ds = config["datasets"][dataset]
    root = absolute_root(ds["root"])
    return list(root.items()) if isinstance(root, dict) else [(ds["loader"], root)]


def _check_disjoint(config: dict, key: str, names: list[str]) -> None:
    """No two of ``names`` read the same videos (one loader, one folder or a folder inside
    the other): a dataset tested on would then also be trained on."""
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for loader_a, root_a in _sources(config, a):
                for loader_b, root_b in _sources(config, b):
                    if loader_a == loader_b and _nested(root_a, root_b):
                        raise ConfigError(
                            f"{key}: {a} and {b} both hold the {loader_a} videos under {root_a}; a dataset tested on would also be trained on"
                        )


def _inside(a: str, b: str) -> bool:
    """Whether folder ``a`` is ``b`` or lies under it."""
    a, b = os.path.normpath(a), os.path.normpath(b)
    return a == b or a.startswith(b + os.sep)


def _nested(a: str, b: str) -> bool:
    return _inside(a, b) or _inside(b, a)


def dataset_class_names(config: dict, dataset: str) -> list[str]:
    ds = config["datasets"][dataset]
    return class_names(ds["loader"], ds.get("classes"))


def experiment_class_names(config: dict, experiment: str) -> list[str]:
    """The class names (label order) of an experiment: those of its first dataset (every
    dataset of a cross or lodo experiment has the same, :func:`check_config`)."""
    return dataset_class_names(config, experiment_datasets(config, experiment)[0])


def experiment_sampling(config: dict, experiment: str) -> Sampling:
    """The experiment's clip sampling: the config's ``sampling`` with its own overrides."""
    return Sampling(**{**config.get("sampling", {}), **config["experiments"][experiment].get("sampling", {})})


def experiment_settings(config: dict, experiment: str) -> dict:
    """Everything a training job of ``experiment`` is given: ``dataset``, ``test_dataset``
    (each or None), ``datasets`` (lodo; else None), ``protocol``, ``init`` (or None),
    ``model``, ``train`` and the merged ``sampling`` (as a dict)."""
    exp = config["experiments"][experiment]
    return {
        "dataset": exp.get("dataset"),
        "test_dataset": exp.get("test_dataset"),
        "datasets": list(exp["datasets"]) if "datasets" in exp else None,
        "protocol": exp.get("protocol", "loso"),
        "init": exp.get("init"),
        "model": copy.deepcopy(exp.get("model", {})),
        "train": copy.deepcopy(exp.get("train", {})),
        "sampling": vars(experiment_sampling(config, experiment)).copy(),
    }


def table_options(config: dict, dataset: str) -> str:
    """Options of ``python -m mol_core.datasets table`` beyond name and root: ``--coding FILE``
    (a JSON object for a composite) when the dataset names a coding file, ``--windows JSON``
    when it cuts its videos into windows, ``--exclude KIND ...`` and ``--strict`` when it sets
    them. One Snakemake parameter, so a dataset with none keeps the parameters (and the
    table) it had."""
    ds = config["datasets"][dataset]
    options = []
    if ds.get("coding"):
        value = json.dumps(ds["coding"]) if isinstance(ds["coding"], dict) else ds["coding"]
        options.append(f"--coding {shlex.quote(value)}")
    if ds.get("windows"):
        options.append(f"--windows {shlex.quote(json.dumps(ds['windows'], sort_keys=True))}")
    if ds.get("exclude"):
        options.append("--exclude " + " ".join(shlex.quote(kind) for kind in ds["exclude"]))
    if ds.get("strict"):
        options.append("--strict")
    return " ".join(options)


def is_pretrain(config: dict, experiment: str) -> bool:
    """A pre-training: one fold (``all``) in which every subject trains but the
    ``train.val_subjects`` drawn for validation (for Aff-Wild2: the official train split
    trains, and the faces are drawn from the official validation split); with ``model.mer_head`` the whole
    network (the paper's: CE + flow + landmark losses on a labelled dataset), without it the
    flow and landmark heads only (ours: any face videos, no labels)."""
    return config["experiments"][experiment].get("protocol") == "pretrain"


def pretraining_datasets(config: dict) -> set[str]:
    """The datasets the planned pre-trainings read."""
    return {d for e in planned_experiments(config) if is_pretrain(config, e) for d in experiment_datasets(config, e)}


def dataset_priority(config: dict, dataset: str) -> int:
    """Snakemake priority of a dataset's preprocessing and clip index: 1 on the way to a
    pre-training, else 0. Every fold waits for the pre-training, so its data are made first;
    the pre-training then runs beside the other datasets' preprocessing, not after it."""
    return int(dataset in pretraining_datasets(config))


def experiment_priority(config: dict, experiment: str) -> int:
    """Snakemake priority of an experiment's training jobs: 1 for a pre-training, else 0."""
    return int(is_pretrain(config, experiment))


def experiment_datasets(config: dict, experiment: str) -> list[str]:
    """The datasets an experiment reads: its own and its test dataset, or a lodo experiment's list."""
    exp = config["experiments"][experiment]
    if "datasets" in exp:
        return list(exp["datasets"])
    return [exp["dataset"]] + ([exp["test_dataset"]] if exp.get("test_dataset") else [])


@dataclass(frozen=True)
class DatasetFold:
    """A fold that tests one whole dataset (protocols cross and lodo): the fold is named
    after ``test``; the model trains on the clips of ``train`` (validation subjects drawn
    from their subjects, so nothing is selected on ``test``) and predicts every video of ``test``."""

    train: tuple[str, ...]
    test: str

    @property
    def name(self) -> str:
        return self.test


def dataset_folds(config: dict, experiment: str) -> list[DatasetFold]:
    """The folds of an experiment whose folds are datasets; [] for loso and pretrain (whose
    folds are subjects, known once the clip index exists, or the one fold ``all``).

    ``cross``: one fold, ``dataset`` -> ``test_dataset``. ``lodo`` (leave one dataset out):
    one fold per dataset of ``datasets``, in their order, each trained on all the others,
    capped by ``max_folds``.

    LODO is one experiment whose folds are datasets, rather than N generated cross
    experiments, because that is what its report needs: the fold predictions pool into one
    ``metrics.csv`` whose pooled row covers every video of every dataset, each predicted by
    the model that never saw its dataset, with the mean and spread over the held-out datasets
    beside it; one row per held-out dataset (``per_source.csv``, the ``metric@source`` rows,
    ``per_fold.csv``) and one summary row with a sub-row per held-out dataset. N cross
    experiments would give N summary rows and no pooled one. Each fold is still a cross fold:
    the training job and its inputs are those of ``cross``, with several training clip tables.
    """
    exp = config["experiments"][experiment]
    protocol = exp.get("protocol", "loso")
    if protocol not in DATASET_PROTOCOLS:
        return []
    if protocol == "cross":
        return [DatasetFold((exp["dataset"],), exp["test_dataset"])]
    names = list(exp["datasets"])
    folds = [DatasetFold(tuple(d for d in names if d != held_out), held_out) for held_out in names]
    return folds[: exp["max_folds"]] if exp.get("max_folds") else folds


def dataset_fold(config: dict, experiment: str, fold: str) -> DatasetFold | None:
    """The fold ``fold`` of a cross or lodo experiment (None for other protocols)."""
    folds = dataset_folds(config, experiment)
    if not folds:
        return None
    for candidate in folds:
        if candidate.name == fold:
            return candidate
    raise ConfigError(f"experiments.{experiment}: no fold {fold!r}; its folds: {', '.join(f.name for f in folds)}")


def planned_experiments(config: dict) -> list[str]:
    """The experiments to run and the pre-trainings their ``init`` names (each once)."""
    run = run_list(config)
    inits = [config["experiments"][e]["init"] for e in run if config["experiments"][e].get("init")]
    return list(dict.fromkeys(run + inits))


def evaluated_experiments(config: dict) -> list[str]:
    """The experiments of ``run`` with metrics (all but pre-trainings): the summary's rows."""
    return [e for e in run_list(config) if not is_pretrain(config, e)]


def experiment_target(config: dict, experiment: str) -> str:
    """What ``all`` builds of an experiment: its metrics, or a pre-training's model."""
    if is_pretrain(config, experiment):
        return f"results/{experiment}/folds/{PRETRAIN_FOLD}/model.pt"
    return f"results/{experiment}/metrics.csv"


def experiment_examples(config: dict, experiment: str) -> list[str]:
    """The rendered example predictions of an experiment (its first seed's, with seeds; none
    for a pre-training, nor for a model without one of the heads the pictures show)."""
    model = config["experiments"][experiment].get("model", {})
    heads = all(model.get(h, True) for h in ("mer_head", "flow_head", "landmark_head"))
    if is_pretrain(config, experiment) or not config.get("examples") or not heads:
        return []
    return [f"results/{seed_runs(config, experiment)[0]}/examples/examples.json"]


def default_targets(config: dict) -> list[str]:
    """Every file of the default target, markers aside: the summary (when some experiment
    has metrics), each planned experiment's target and its examples."""
    targets = ["results/summary.md"] if evaluated_experiments(config) else []
    for experiment in planned_experiments(config):
        targets += [experiment_target(config, experiment)] + experiment_examples(config, experiment)
    return targets


def clips_path(config: dict, dataset: str, sampling: Sampling) -> str:
    """The clip index of a dataset: results/{dataset}/clips.parquet for the config's sampling,
    results/{dataset}/samplings/{sampling}/clips.parquet for another one."""
    if sampling == Sampling(**config.get("sampling", {})):
        return f"results/{dataset}/clips.parquet"
    return f"results/{dataset}/samplings/{sampling.name}/clips.parquet"


def experiment_inputs(config: dict, experiment: str, fold: str | None = None) -> dict:
    """What a training job of ``fold`` reads: ``clips`` (a list of clip tables for a fold that
    tests a dataset: those of its training datasets, with its ``test_clips``; one path
    otherwise) and, with ``init``, the pre-trained model. Without ``fold`` a cross or lodo
    experiment gives its first fold's."""
    exp = config["experiments"][experiment]
    sampling = experiment_sampling(config, experiment)
    folds = dataset_folds(config, experiment)
    if folds:
        chosen = (dataset_fold(config, experiment, fold) if fold is not None else None) or folds[0]
        inputs = {"clips": [clips_path(config, d, sampling) for d in chosen.train], "test_clips": clips_path(config, chosen.test, sampling)}
    else:
        inputs = {"clips": clips_path(config, exp["dataset"], sampling)}
    if exp.get("init"):
        inputs["init"] = f"results/{exp['init']}/folds/{PRETRAIN_FOLD}/model.pt"
    return inputs


def test_clips(config: dict, experiment: str) -> list[str]:
    """The clip tables holding an experiment's test videos: one per fold that tests a dataset
    (cross, lodo; in fold order), else the experiment's own dataset's."""
    sampling = experiment_sampling(config, experiment)
    folds = dataset_folds(config, experiment)
    if folds:
        return [clips_path(config, fold.test, sampling) for fold in folds]
    return [clips_path(config, config["experiments"][experiment]["dataset"], sampling)]


def absolute_root(root):
    """A dataset root (a folder, or a composite's {source: folder}) made absolute."""
    return {k: os.path.abspath(v) for k, v in root.items()} if isinstance(root, dict) else os.path.abspath(root)


def dataset_preprocess(config: dict, dataset: str) -> dict:
    """A dataset's preprocessing section: its own (``datasets.<name>.preprocess``, complete
    once presets are applied) or the top-level one."""
    return config["datasets"][dataset].get("preprocess") or config.get("preprocess", {})


def preprocess_settings(config: dict, dataset: str) -> PreprocessSettings:
    """:func:`dataset_preprocess` as settings (ConfigError naming the dataset for a bad key)."""
    try:
        return PreprocessSettings.from_dict(dataset_preprocess(config, dataset))
    except ConfigError as error:
        where = f"datasets.{dataset}.preprocess" if config["datasets"][dataset].get("preprocess") else "preprocess"
        raise ConfigError(f"{where}: {error}") from error


def store_key(config: dict, dataset: str) -> str:
    """Cache key of a dataset's stores: its loader, absolute root and every parameter of
    frames and landmarks (flow parameters and the clip sampling name a flow inside a store)."""
    ds = config["datasets"][dataset]
    params = preprocess_settings(config, dataset).store_params()
    return cache_key({"loader": ds["loader"], "root": absolute_root(ds["root"]), "preprocess": params})


def dataset_roots(config: dict, dataset: str) -> list[str]:
    root = config["datasets"][dataset]["root"]
    return list(root.values()) if isinstance(root, dict) else [root]


def synthetic_extra_root(config: dict) -> str | None:
    """Where the workflow generates the synthetic set's extra identities in a job of their own
    (``synthetic.extra_root``, when ``extra_subjects`` > 0); None: inside ``synthetic.root``
    (``<root>/extra``), in the synthetic set's job."""
    synthetic = config.get("synthetic") or {}
    return synthetic.get("extra_root") if synthetic.get("extra_root") and synthetic.get("extra_subjects", 0) > 0 else None


def generated_source(config: dict, dataset: str) -> str | None:
    """The folder a workflow rule generates ``dataset`` in: ``synthetic.root`` for the
    synthetic set or a folder inside it (``<root>/extra``), ``synthetic.extra_root`` for a
    folder inside that; None for a dataset on disk."""
    synthetic = config.get("synthetic") or {}
    if config["datasets"][dataset]["loader"] == "synthetic":
        return synthetic["root"]
    for folder in filter(None, (synthetic_extra_root(config), synthetic.get("root"))):
        if all(_inside(os.path.abspath(root), os.path.abspath(folder)) for root in dataset_roots(config, dataset)):
            return folder
    return None


def labelled_generation_waits_for(config: dict) -> list[str]:
    """The clip indexes the synthetic set's job waits for: those of the pre-trainings on the
    extra identities generated in ``synthetic.extra_root``. Their generation and preprocessing
    then have every core first, and the synthetic set is made beside the pre-training, which
    every fold waits for (without the wait it takes a core as soon as the extra identities
    are written, before their preprocessing jobs exist). Empty without such a pre-training."""
    extra = synthetic_extra_root(config)
    if extra is None:
        return []
    return sorted(
        {
            clips_path(config, dataset, experiment_sampling(config, experiment))
            for experiment in planned_experiments(config)
            if is_pretrain(config, experiment)
            for dataset in experiment_datasets(config, experiment)
            if generated_source(config, dataset) == extra
        }
    )


def generated_dataset(config: dict, dataset: str) -> bool:
    """Whether a workflow rule generates ``dataset`` (:func:`generated_source`)."""
    return generated_source(config, dataset) is not None


def generation_priority(config: dict, folder: str) -> int:
    """Snakemake priority of the job that generates ``folder``: 1 when a pre-training reads a
    dataset generated there (its data are made first, as in :func:`dataset_priority`), else 0."""
    return int(any(generated_source(config, d) == folder for d in pretraining_datasets(config)))


def train_memory_mb(config: dict, experiment: str) -> int:
    """Host memory of a training job (MB): 4 GB and 20 MB per frame of a batch."""
    return 4000 + 20 * _frames_per_batch(config, experiment)


def train_runtime_min(config: dict, experiment: str) -> int:
    """Wall time a training job may take (minutes): a GPU needs about 15 ms per frame of a
    batch for the full model, forward and backward; twice that, plus 20 minutes for
    validation and start-up."""
    steps = config["experiments"][experiment].get("train", {}).get("steps", 1000)
    return 20 + int(steps * _frames_per_batch(config, experiment) * 0.015 / 60 * 2)


def _frames_per_batch(config: dict, experiment: str) -> int:
    batch_size = config["experiments"][experiment].get("train", {}).get("batch_size", 32)
    return batch_size * experiment_sampling(config, experiment).frames


def lock_timeout_environment(config: dict) -> dict[str, str]:
    """``{"MOL_LOCK_TIMEOUT": "<seconds>"}`` for the workflow's environment when the config
    sets ``lock_timeout`` (else {}: jobs inherit the variable if it is set, or wait without
    limit; :func:`mol_core.store.lock.entry_lock`). An environment variable rather than a
    rule parameter: changing it reruns nothing, and no rule has to evaluate its threads to
    build its parameters (which Snakemake 9 cannot do inside a grouped SLURM job)."""
    timeout = config.get("lock_timeout")
    return {TIMEOUT_VARIABLE: f"{timeout:g}"} if timeout else {}


def preprocess_memory_mb(n_frames: int) -> int:
    """Memory of a preprocessing job whose longest video has ``n_frames`` frames (MB): 600 and
    4 MB per frame (one video is held at a time)."""
    return 600 + 4 * n_frames


def preprocess_runtime_min(n_frames: int) -> int:
    """Wall time of a preprocessing job of ``n_frames`` frames in all (minutes): 5 and 1 per
    4 frames."""
    return 5 + n_frames // 4
