"""The workflow's plan, built once from the config: which experiments run, their datasets,
folds (subjects, or whole datasets for cross-dataset and leave-one-dataset-out), clip
samplings and inputs, the cache keys and preprocessing of each dataset, targets,
priorities and the resources of every job, and the checks a schema cannot express.

:class:`WorkflowPlan` holds the config (after schema validation, which fills in the
defaults, and :meth:`WorkflowPlan.from_config`'s expansion of ablations and seeds) and never
changes it. Problems are :class:`~mol_core.errors.ConfigError` s whose message names the
key. The Snakefile (``workflow/rules/common.smk``) builds one plan and asks it; nothing here
imports Snakemake, OpenCV or torch.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from .clips.sampling import Sampling
from .datasets.labels import class_names
from .datasets.sources import coding_files, listing_digest
from .errors import ConfigError
from .store.keys import PreprocessSettings, cache_key, flow_name
from .store.lock import TIMEOUT_VARIABLE
from .workflow_config import SEED_SUFFIX, ablation_experiments, expanded, seed_run_name

PRETRAIN_FOLD = "all"  # the one fold of a pre-training
DATASET_PROTOCOLS = ("cross", "lodo")  # protocols whose folds test whole datasets (a fold is named after its test dataset)


def _same_folder(a: str, b: str) -> bool:
    return os.path.normpath(os.path.abspath(a)) == os.path.normpath(os.path.abspath(b))


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


def _inside(a: str, b: str) -> bool:
    """Whether folder ``a`` is ``b`` or lies under it."""
    a, b = os.path.normpath(a), os.path.normpath(b)
    return a == b or a.startswith(b + os.sep)


def _nested(a: str, b: str) -> bool:
    return _inside(a, b) or _inside(b, a)


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


def absolute_root(root):
    """A dataset root (a folder, or a composite's {source: folder}) made absolute."""
    return {k: os.path.abspath(v) for k, v in root.items()} if isinstance(root, dict) else os.path.abspath(root)


def preprocess_memory_mb(n_frames: int) -> int:
    """Memory of a preprocessing job whose longest video has ``n_frames`` frames (MB): 600 and
    4 MB per frame (one video is held at a time)."""
    return 600 + 4 * n_frames


def preprocess_runtime_min(n_frames: int) -> int:
    """Wall time of a preprocessing job of ``n_frames`` frames in all (minutes): 5 and 1 per
    4 frames."""
    return 5 + n_frames // 4


class WorkflowPlan:
    """The plan of one workflow run over ``config`` (a resolved config: see :meth:`from_config`)."""

    def __init__(self, config: dict, ablations: tuple[str, ...] = ()):
        self.config = config
        self.ablations = list(ablations)  # the experiments made from resources/ablations.yaml

    @property
    def default_sampling(self) -> Sampling:
        """The config's ``sampling`` (an experiment may set its own)."""
        return Sampling(**self.config.get("sampling", {}))

    def experiments(self) -> list[str]:
        return list(self.config["experiments"])

    def seeded_experiments(self) -> list[str]:
        """The experiments with ``seeds``: they train nothing themselves, their report pools their seed runs."""
        return [e for e in self.config["experiments"] if self.experiment_seeds(e)]

    def datasets(self) -> list[str]:
        return list(self.config["datasets"])

    def marker_dir(self, dataset: str, sampling: Sampling) -> str:
        """Where the preprocessing markers of a dataset's videos go for one clip sampling:
        ``{cache_dir}/{dataset}/{store key}/{flow name}`` (one folder per subject in it)."""
        flow = flow_name(sampling, self.preprocess_settings(dataset))
        return f"{self.config['cache_dir']}/{dataset}/{self.store_key(dataset)}/{flow}"

    def marker_samplings(self) -> list[tuple[str, Sampling]]:
        """(dataset, sampling) of every marker folder the planned experiments stand on."""
        wanted = {(d, self.experiment_sampling(e)) for e in self.planned_experiments() for d in self.experiment_datasets(e)}
        return sorted(wanted, key=str)

    def preprocess_json(self, dataset: str) -> str:
        """A dataset's preprocessing section as a JSON argument."""
        return as_json(self.dataset_preprocess(dataset))

    def synthetic_json(self) -> str:
        """The generator's settings as a JSON argument: the synthetic section but its folders."""
        return as_json({k: v for k, v in self.config["synthetic"].items() if k not in ("faces", "root", "extra_root")})

    def root_argument(self, dataset: str) -> str:
        """A dataset's root as ``python -m mol_core.datasets table`` takes it (a composite's as JSON)."""
        root = self.config["datasets"][dataset]["root"]
        return json.dumps(root) if isinstance(root, dict) else root

    def dataset_source(self, dataset: str) -> list[str]:
        """What a dataset's table is built from: the generated set's folder, or the root
        folder(s) and the coding file(s) the loader reads (an edited workbook is newer than the table)."""
        source = self.generated_source(dataset)
        if source:
            return [source]
        ds = self.config["datasets"][dataset]
        return self.dataset_roots(dataset) + coding_files(ds["loader"], ds["root"], ds.get("coding"))

    def dataset_listing(self, dataset: str) -> str:
        """A digest of the file names under a dataset's root(s): a frame file added, removed or
        renamed replans its table ("" for a generated set, which follows its rule)."""
        return "" if self.generated_dataset(dataset) else listing_digest(self.dataset_roots(dataset))

    def experiment_folds(self, experiment: str, subjects_with_clips) -> list[str]:
        """An experiment's folds: one per test dataset (cross, lodo), the one fold ``all`` (a
        pre-training), or one per subject with clips, capped by ``max_folds`` (LOSO:
        ``subjects_with_clips(dataset, sampling)`` reads them from that clip index)."""
        exp = self.config["experiments"][experiment]
        dataset_folds = self.dataset_folds(experiment)
        if dataset_folds:
            return [fold.name for fold in dataset_folds]
        if exp.get("protocol") == "pretrain":
            return [PRETRAIN_FOLD]
        folds = sorted(set(subjects_with_clips(exp["dataset"], self.experiment_sampling(experiment))))
        return folds[: exp["max_folds"]] if exp.get("max_folds") else folds

    @classmethod
    def from_config(cls, config: dict, variants: dict, paper_keys) -> WorkflowPlan:
        """The plan of a config as Snakemake merged it: the ablation experiments
        (``variants``: resources/ablations.yaml) and the per-seed experiments added to a copy,
        then checked (:meth:`check_config`; ``paper_keys``: the rows of
        resources/paper_results.yaml)."""
        plan = cls(expanded(config, variants), tuple(ablation_experiments(config, variants)))
        plan.check_config(paper_keys)
        return plan

    @classmethod
    def of_repository(cls, config: dict, repo: str | Path) -> WorkflowPlan:
        """:meth:`from_config` with the ablation variants and the paper's rows of the
        repository at ``repo`` (its ``resources/``)."""
        resources = Path(repo) / "resources"
        variants = yaml.safe_load((resources / "ablations.yaml").read_text())
        return cls.from_config(config, variants, set(yaml.safe_load((resources / "paper_results.yaml").read_text())))

    def experiment_seeds(self, experiment: str) -> list[int]:
        """The seeds an experiment runs once each (``seeds``); [] for one ordinary run."""
        return list(self.config["experiments"][experiment].get("seeds") or [])

    def seed_runs(self, experiment: str) -> list[str]:
        """The experiments that train for ``experiment``: its per-seed copies, or itself."""
        seeds = self.experiment_seeds(experiment)
        return [seed_run_name(experiment, seed) for seed in seeds] if seeds else [experiment]

    def run_list(self) -> list[str]:
        """The experiments to build: ``run``, else every one under ``experiments`` but the seed
        runs (their experiment builds them)."""
        return list(self.config.get("run") or [e for e in self.config["experiments"] if not self.seed_run_of(e)])

    def seed_run_of(self, experiment: str) -> str | None:
        """The experiment whose seed run ``experiment`` is (``<name>_seed<n>``), or None."""
        base, _, seed = experiment.rpartition(SEED_SUFFIX)
        if base in self.config["experiments"] and seed.isdigit() and int(seed) in self.experiment_seeds(base):
            return base
        return None

    def check_config(self, paper_keys=()) -> None:
        """The errors a schema cannot express: names that must exist and agree. Raises
        ConfigError naming the key."""
        experiments = self.config["experiments"]
        for dataset in self.config.get("datasets") or {}:
            self.preprocess_settings(dataset)  # every dataset's preprocessing is valid
        for i, name in enumerate(self.config.get("run") or []):
            if name not in experiments:
                raise ConfigError(f"run[{i}]: {name!r} is not under experiments: ({', '.join(experiments)})")
        synthetic = self.config.get("synthetic") or {}
        if (
            synthetic.get("extra_root")
            and synthetic.get("root")
            and _nested(os.path.abspath(synthetic["extra_root"]), os.path.abspath(synthetic["root"]))
        ):
            raise ConfigError(
                f"synthetic.extra_root: {synthetic['extra_root']!r} and synthetic.root {synthetic['root']!r} are nested; "
                "their two jobs each write a whole folder, so give them separate folders"
            )
        for name, ds in self.config["datasets"].items():
            self._check_dataset(name, ds)
        for name, exp in experiments.items():
            self._check_experiment(name, exp, paper_keys)

    def _check_dataset(self, name: str, ds: dict) -> None:
        """A dataset's root: its kind matches the loader, and the synthetic set's is synthetic.root."""
        if (ds["loader"] == "composite") != isinstance(ds["root"], dict):
            raise ConfigError(f"datasets.{name}.root: a composite root is {{casme2: ..., samm: ..., smic: ...}}; any other root is a folder")
        synthetic_root = self.config.get("synthetic", {}).get("root")
        if ds["loader"] == "synthetic" and synthetic_root and not _same_folder(ds["root"], synthetic_root):
            raise ConfigError(
                f"datasets.{name}.root: {ds['root']!r} differs from synthetic.root {synthetic_root!r}, "
                "where the workflow generates the synthetic set; give both the same folder"
            )

    def _check_experiment(self, name: str, exp: dict, paper_keys) -> None:
        """The names an experiment gives (datasets, paper row, init) exist and agree with its protocol."""
        experiments, datasets, key = self.config["experiments"], self.config["datasets"], f"experiments.{name}"
        if name in datasets:
            raise ConfigError(f"{key}: has the name of a dataset; both write under results/<name>/, so rename one")
        _check_protocol_keys(key, exp)
        if exp.get("seeds") and exp.get("protocol") == "pretrain":
            raise ConfigError(f"{key}.seeds: a pre-training runs once (give it train.seed); seeds are for evaluated experiments")
        for field in ("dataset", "test_dataset"):
            if exp.get(field) and exp[field] not in datasets:
                raise ConfigError(f"{key}.{field}: {exp[field]!r} is not under datasets: ({', '.join(datasets)})")
        self._check_heads(key, exp)
        rows = [exp["paper"]] if isinstance(exp.get("paper"), str) else exp.get("paper") or []
        for row in rows:
            if row not in paper_keys:
                raise ConfigError(f"{key}.paper: {row!r} is not a row of resources/paper_results.yaml")
        if exp.get("init") and experiments.get(exp["init"], {}).get("protocol") != "pretrain":
            raise ConfigError(f"{key}.init: must name a pretrain experiment, not {exp['init']!r}")
        if exp.get("protocol") == "lodo":
            self._check_lodo_datasets(key, exp["datasets"])
        if exp.get("test_dataset"):
            train, test = self.dataset_class_names(exp["dataset"]), self.dataset_class_names(exp["test_dataset"])
            if train != test:
                raise ConfigError(f"{key}.test_dataset: the classes of {exp['dataset']} {train} and {exp['test_dataset']} {test} differ")
            self._check_disjoint(f"{key}.test_dataset", [exp["dataset"], exp["test_dataset"]])

    def _check_heads(self, key: str, exp: dict) -> None:
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
        if protocol == "pretrain" and mer_head and len(self.dataset_class_names(exp["dataset"])) < 2:
            raise ConfigError(
                f"{key}.model.mer_head: a pre-training with the MER head needs a labelled dataset; "
                f"{exp['dataset']} has no classes to learn (set mer_head: false for flow and landmarks only)"
            )

    def _check_lodo_datasets(self, key: str, names: list) -> None:
        """A leave-one-dataset-out list: at least two distinct configured datasets, one class
        set (the same class names in the same label order), no videos in common."""
        known = self.config["datasets"]
        if len(names) < 2:
            raise ConfigError(f"{key}.datasets: protocol lodo needs at least 2 datasets, got {len(names)}")
        for i, dataset in enumerate(names):
            if dataset not in known:
                raise ConfigError(f"{key}.datasets[{i}]: {dataset!r} is not under datasets: ({', '.join(known)})")
            if dataset in names[:i]:
                raise ConfigError(f"{key}.datasets[{i}]: {dataset!r} is listed twice")
        first = self.dataset_class_names(names[0])
        for i, dataset in enumerate(names[1:], 1):
            classes = self.dataset_class_names(dataset)
            if classes != first:
                raise ConfigError(
                    f"{key}.datasets[{i}]: the classes of {names[0]} {first} and {dataset} {classes} differ; "
                    "every dataset of a lodo experiment needs the same classes in the same order"
                )
        self._check_disjoint(f"{key}.datasets", names)

    def _sources(self, dataset: str) -> list[tuple[str, str]]:
        """(loader, absolute folder) of every part of a dataset (a composite has three)."""
        ds = self.config["datasets"][dataset]
        root = absolute_root(ds["root"])
        return list(root.items()) if isinstance(root, dict) else [(ds["loader"], root)]

    def _check_disjoint(self, key: str, names: list[str]) -> None:
        """No two of ``names`` read the same videos (one loader, one folder or a folder inside
        the other): a dataset tested on would then also be trained on."""
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                for loader_a, root_a in self._sources(a):
                    for loader_b, root_b in self._sources(b):
                        if loader_a == loader_b and _nested(root_a, root_b):
                            raise ConfigError(
                                f"{key}: {a} and {b} both hold the {loader_a} videos under {root_a}; "
                                "a dataset tested on would also be trained on"
                            )

    def dataset_class_names(self, dataset: str) -> list[str]:
        ds = self.config["datasets"][dataset]
        return class_names(ds["loader"], ds.get("classes"))

    def experiment_class_names(self, experiment: str) -> list[str]:
        """The class names (label order) of an experiment: those of its first dataset (every
        dataset of a cross or lodo experiment has the same, :func:`check_config`)."""
        return self.dataset_class_names(self.experiment_datasets(experiment)[0])

    def experiment_sampling(self, experiment: str) -> Sampling:
        """The experiment's clip sampling: the config's ``sampling`` with its own overrides."""
        return Sampling(**{**self.config.get("sampling", {}), **self.config["experiments"][experiment].get("sampling", {})})

    def experiment_settings(self, experiment: str) -> dict:
        """Everything a training job of ``experiment`` is given: ``dataset``, ``test_dataset``
        (each or None), ``datasets`` (lodo; else None), ``protocol``, ``init`` (or None),
        ``model``, ``train`` and the merged ``sampling`` (as a dict)."""
        exp = self.config["experiments"][experiment]
        return {
            "dataset": exp.get("dataset"),
            "test_dataset": exp.get("test_dataset"),
            "datasets": list(exp["datasets"]) if "datasets" in exp else None,
            "protocol": exp.get("protocol", "loso"),
            "init": exp.get("init"),
            "model": copy.deepcopy(exp.get("model", {})),
            "train": copy.deepcopy(exp.get("train", {})),
            "sampling": vars(self.experiment_sampling(experiment)).copy(),
        }

    def table_options(self, dataset: str) -> str:
        """Options of ``python -m mol_core.datasets table`` beyond name and root: ``--coding FILE``
        (a JSON object for a composite) when the dataset names a coding file, ``--windows JSON``
        when it cuts its videos into windows, ``--exclude KIND ...`` and ``--strict`` when it sets
        them. One Snakemake parameter, so a dataset with none keeps the parameters (and the
        table) it had."""
        ds = self.config["datasets"][dataset]
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

    def is_pretrain(self, experiment: str) -> bool:
        """A pre-training: one fold (``all``) in which every subject trains but the
        ``train.val_subjects`` drawn for validation (for Aff-Wild2: the official train split
        trains, and the faces are drawn from the official validation split); with ``model.mer_head`` the whole
        network (the paper's: CE + flow + landmark losses on a labelled dataset), without it the
        flow and landmark heads only (ours: any face videos, no labels)."""
        return self.config["experiments"][experiment].get("protocol") == "pretrain"

    def pretraining_datasets(self) -> set[str]:
        """The datasets the planned pre-trainings read."""
        return {d for e in self.planned_experiments() if self.is_pretrain(e) for d in self.experiment_datasets(e)}

    def dataset_priority(self, dataset: str) -> int:
        """Snakemake priority of a dataset's preprocessing and clip index: 1 on the way to a
        pre-training, else 0. Every fold waits for the pre-training, so its data are made first;
        the pre-training then runs beside the other datasets' preprocessing, not after it."""
        return int(dataset in self.pretraining_datasets())

    def experiment_priority(self, experiment: str) -> int:
        """Snakemake priority of an experiment's training jobs: 1 for a pre-training, else 0."""
        return int(self.is_pretrain(experiment))

    def experiment_datasets(self, experiment: str) -> list[str]:
        """The datasets an experiment reads: its own and its test dataset, or a lodo experiment's list."""
        exp = self.config["experiments"][experiment]
        if "datasets" in exp:
            return list(exp["datasets"])
        return [exp["dataset"]] + ([exp["test_dataset"]] if exp.get("test_dataset") else [])

    def dataset_folds(self, experiment: str) -> list[DatasetFold]:
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
        exp = self.config["experiments"][experiment]
        protocol = exp.get("protocol", "loso")
        if protocol not in DATASET_PROTOCOLS:
            return []
        if protocol == "cross":
            return [DatasetFold((exp["dataset"],), exp["test_dataset"])]
        names = list(exp["datasets"])
        folds = [DatasetFold(tuple(d for d in names if d != held_out), held_out) for held_out in names]
        return folds[: exp["max_folds"]] if exp.get("max_folds") else folds

    def dataset_fold(self, experiment: str, fold: str) -> DatasetFold | None:
        """The fold ``fold`` of a cross or lodo experiment (None for other protocols)."""
        folds = self.dataset_folds(experiment)
        if not folds:
            return None
        for candidate in folds:
            if candidate.name == fold:
                return candidate
        raise ConfigError(f"experiments.{experiment}: no fold {fold!r}; its folds: {', '.join(f.name for f in folds)}")

    def planned_experiments(self) -> list[str]:
        """The experiments to run and the pre-trainings their ``init`` names (each once)."""
        run = self.run_list()
        inits = [self.config["experiments"][e]["init"] for e in run if self.config["experiments"][e].get("init")]
        return list(dict.fromkeys(run + inits))

    def evaluated_experiments(self) -> list[str]:
        """The experiments of ``run`` with metrics (all but pre-trainings): the summary's rows."""
        return [e for e in self.run_list() if not self.is_pretrain(e)]

    def experiment_target(self, experiment: str) -> str:
        """What ``all`` builds of an experiment: its metrics, or a pre-training's model."""
        if self.is_pretrain(experiment):
            return f"results/{experiment}/folds/{PRETRAIN_FOLD}/model.pt"
        return f"results/{experiment}/metrics.csv"

    def experiment_examples(self, experiment: str) -> list[str]:
        """The rendered example predictions of an experiment (its first seed's, with seeds; none
        for a pre-training, nor for a model without one of the heads the pictures show)."""
        model = self.config["experiments"][experiment].get("model", {})
        heads = all(model.get(h, True) for h in ("mer_head", "flow_head", "landmark_head"))
        if self.is_pretrain(experiment) or not self.config.get("examples") or not heads:
            return []
        return [f"results/{self.seed_runs(experiment)[0]}/examples/examples.json"]

    def default_targets(self) -> list[str]:
        """Every file of the default target, markers aside: the summary (when some experiment
        has metrics), each planned experiment's target and its examples."""
        targets = ["results/summary.md"] if self.evaluated_experiments() else []
        for experiment in self.planned_experiments():
            targets += [self.experiment_target(experiment)] + self.experiment_examples(experiment)
        return targets

    def clips_path(self, dataset: str, sampling: Sampling) -> str:
        """The clip index of a dataset: results/{dataset}/clips.parquet for the config's sampling,
        results/{dataset}/samplings/{sampling}/clips.parquet for another one."""
        if sampling == Sampling(**self.config.get("sampling", {})):
            return f"results/{dataset}/clips.parquet"
        return f"results/{dataset}/samplings/{sampling.name}/clips.parquet"

    def experiment_inputs(self, experiment: str, fold: str | None = None) -> dict:
        """What a training job of ``fold`` reads: ``clips`` (a list of clip tables for a fold that
        tests a dataset: those of its training datasets, with its ``test_clips``; one path
        otherwise) and, with ``init``, the pre-trained model. Without ``fold`` a cross or lodo
        experiment gives its first fold's."""
        exp = self.config["experiments"][experiment]
        sampling = self.experiment_sampling(experiment)
        folds = self.dataset_folds(experiment)
        if folds:
            chosen = (self.dataset_fold(experiment, fold) if fold is not None else None) or folds[0]
            inputs = {"clips": [self.clips_path(d, sampling) for d in chosen.train], "test_clips": self.clips_path(chosen.test, sampling)}
        else:
            inputs = {"clips": self.clips_path(exp["dataset"], sampling)}
        if exp.get("init"):
            inputs["init"] = f"results/{exp['init']}/folds/{PRETRAIN_FOLD}/model.pt"
        return inputs

    def test_clips(self, experiment: str) -> list[str]:
        """The clip tables holding an experiment's test videos: one per fold that tests a dataset
        (cross, lodo; in fold order), else the experiment's own dataset's."""
        sampling = self.experiment_sampling(experiment)
        folds = self.dataset_folds(experiment)
        if folds:
            return [self.clips_path(fold.test, sampling) for fold in folds]
        return [self.clips_path(self.config["experiments"][experiment]["dataset"], sampling)]

    def dataset_preprocess(self, dataset: str) -> dict:
        """A dataset's preprocessing section: its own (``datasets.<name>.preprocess``, complete
        once presets are applied) or the top-level one."""
        return self.config["datasets"][dataset].get("preprocess") or self.config.get("preprocess", {})

    def preprocess_settings(self, dataset: str) -> PreprocessSettings:
        """:func:`dataset_preprocess` as settings (ConfigError naming the dataset for a bad key)."""
        try:
            return PreprocessSettings.from_dict(self.dataset_preprocess(dataset))
        except ConfigError as error:
            where = f"datasets.{dataset}.preprocess" if self.config["datasets"][dataset].get("preprocess") else "preprocess"
            raise ConfigError(f"{where}: {error}") from error

    def store_key(self, dataset: str) -> str:
        """Cache key of a dataset's stores: its loader, absolute root and every parameter of
        frames and landmarks (flow parameters and the clip sampling name a flow inside a store)."""
        ds = self.config["datasets"][dataset]
        params = self.preprocess_settings(dataset).store_params()
        return cache_key({"loader": ds["loader"], "root": absolute_root(ds["root"]), "preprocess": params})

    def dataset_roots(self, dataset: str) -> list[str]:
        root = self.config["datasets"][dataset]["root"]
        return list(root.values()) if isinstance(root, dict) else [root]

    def synthetic_extra_root(self) -> str | None:
        """Where the workflow generates the synthetic set's extra identities in a job of their own
        (``synthetic.extra_root``, when ``extra_subjects`` > 0); None: inside ``synthetic.root``
        (``<root>/extra``), in the synthetic set's job."""
        synthetic = self.config.get("synthetic") or {}
        return synthetic.get("extra_root") if synthetic.get("extra_root") and synthetic.get("extra_subjects", 0) > 0 else None

    def generated_source(self, dataset: str) -> str | None:
        """The folder a workflow rule generates ``dataset`` in: ``synthetic.root`` for the
        synthetic set or a folder inside it (``<root>/extra``), ``synthetic.extra_root`` for a
        folder inside that; None for a dataset on disk."""
        synthetic = self.config.get("synthetic") or {}
        if self.config["datasets"][dataset]["loader"] == "synthetic":
            return synthetic["root"]
        for folder in filter(None, (self.synthetic_extra_root(), synthetic.get("root"))):
            if all(_inside(os.path.abspath(root), os.path.abspath(folder)) for root in self.dataset_roots(dataset)):
                return folder
        return None

    def labelled_generation_waits_for(self) -> list[str]:
        """The clip indexes the synthetic set's job waits for: those of the pre-trainings on the
        extra identities generated in ``synthetic.extra_root``. Their generation and preprocessing
        then have every core first, and the synthetic set is made beside the pre-training, which
        every fold waits for (without the wait it takes a core as soon as the extra identities
        are written, before their preprocessing jobs exist). Empty without such a pre-training."""
        extra = self.synthetic_extra_root()
        if extra is None:
            return []
        return sorted(
            {
                self.clips_path(dataset, self.experiment_sampling(experiment))
                for experiment in self.planned_experiments()
                if self.is_pretrain(experiment)
                for dataset in self.experiment_datasets(experiment)
                if self.generated_source(dataset) == extra
            }
        )

    def generated_dataset(self, dataset: str) -> bool:
        """Whether a workflow rule generates ``dataset`` (:func:`generated_source`)."""
        return self.generated_source(dataset) is not None

    def generation_priority(self, folder: str) -> int:
        """Snakemake priority of the job that generates ``folder``: 1 when a pre-training reads a
        dataset generated there (its data are made first, as in :func:`dataset_priority`), else 0."""
        return int(any(self.generated_source(d) == folder for d in self.pretraining_datasets()))

    def folds_per_job(self, experiment: str) -> int:
        """How many folds one training job trains at once (``train.folds_per_gpu``; LOSO only:
        :mod:`mol_core.train.shared_device`), else 1."""
        exp = self.config["experiments"][experiment]
        if exp.get("protocol", "loso") != "loso" or self.dataset_folds(experiment):
            return 1
        return max(1, int(exp.get("train", {}).get("folds_per_gpu", 1)))

    def train_memory_mb(self, experiment: str) -> int:
        """Host memory of a training job (MB): 4 GB and 20 MB per frame of a batch, per fold
        it trains at once."""
        return (4000 + 20 * self._frames_per_batch(experiment)) * self.folds_per_job(experiment)

    def train_runtime_min(self, experiment: str) -> int:
        """Wall time a training job may take (minutes): a GPU needs about 15 ms per frame of a
        batch for the full model, forward and backward; twice that, plus 20 minutes for
        validation and start-up."""
        steps = self.config["experiments"][experiment].get("train", {}).get("steps", 1000)
        return 20 + int(steps * self._frames_per_batch(experiment) * 0.015 / 60 * 2)

    def _frames_per_batch(self, experiment: str) -> int:
        batch_size = self.config["experiments"][experiment].get("train", {}).get("batch_size", 32)
        return batch_size * self.experiment_sampling(experiment).frames

    def lock_timeout_environment(self) -> dict[str, str]:
        """``{"MOL_LOCK_TIMEOUT": "<seconds>"}`` for the workflow's environment when the config
        sets ``lock_timeout`` (else {}: jobs inherit the variable if it is set, or wait without
        limit; :func:`mol_core.store.lock.entry_lock`). An environment variable rather than a
        rule parameter: changing it reruns nothing, and no rule has to evaluate its threads to
        build its parameters (which Snakemake 9 cannot do inside a grouped SLURM job)."""
        timeout = self.config.get("lock_timeout")
        return {TIMEOUT_VARIABLE: f"{timeout:g}"} if timeout else {}


def as_json(value) -> str:
    """A JSON argument for a shell command (quote it with ``{params.x:q}``)."""
    return json.dumps(value, sort_keys=True)


def one_of(names) -> str:
    """A wildcard constraint matching exactly these names (none: matches nothing)."""
    return "|".join(map(re.escape, names)) if names else "(?!)"
