"""The effective config: what the workflow runs after Snakemake merges ``--configfile``
files over ``config.yaml``, the presets fill what they do not set and the schema its
defaults; TV-L1's parameters written out with OpenCV's defaults. ``python -m mol_core.config
show`` prints it; each experiment's part, with the settings in which it differs from the
``paper`` preset, is written to ``results/{experiment}/config.yaml``.
"""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..store.keys import tvl1_params
from ..workflow_plan import WorkflowPlan
from .presets import GLOBAL_SECTIONS, apply_presets, merged, preset

REPO = Path(__file__).resolve().parents[2]
BASE_CONFIG = REPO / "config.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
ABLATIONS = REPO / "resources" / "ablations.yaml"
PAPER_RESULTS = REPO / "resources" / "paper_results.yaml"


def read_yaml(path: str | Path, what: str = "config file") -> dict:
    path = Path(path)
    try:
        with open(path) as handle:
            loaded = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError(f"{what} not found or unreadable: {path} ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a {what} must be a mapping of keys, got {type(loaded).__name__}")
    return loaded


def merged_config(configfiles=(), base: str | Path = BASE_CONFIG) -> dict:
    """``base`` with each of ``configfiles`` merged over it in order, nested mappings key by
    key, as Snakemake merges ``--configfile`` over the Snakefile's ``configfile``."""
    config = read_yaml(base)
    for path in configfiles:
        config = merged(config, read_yaml(path))
    return config


def with_schema_defaults(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """A copy of ``config`` validated against the workflow's schema, its defaults filled in
    (as ``snakemake.utils.validate`` does); ConfigError naming the key for a bad value."""
    from jsonschema import Draft202012Validator, validators

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)

    schema = read_yaml(schema_path, "schema")
    out = copy.deepcopy(config)
    for _ in validators.extend(Draft202012Validator, {"properties": set_defaults})(schema).iter_errors(out):
        pass  # walking the config fills the defaults; its errors are reported below, the first one only
    errors = sorted(Draft202012Validator(schema).iter_errors(out), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(map(str, error.absolute_path)) or "(top level)"
        properties = error.schema.get("properties") if isinstance(error.schema, dict) else None
        if error.validator == "additionalProperties" and isinstance(properties, dict) and isinstance(error.instance, dict):
            unknown = sorted(set(error.instance) - set(properties))
            near = sorted({m for key in unknown for m in difflib.get_close_matches(str(key), list(properties), n=2)})
            raise ConfigError(
                f"config key {where}: unknown key(s) {', '.join(map(repr, unknown))}"
                + (f" (did you mean {' or '.join(near)}?)" if near else "")
                + f"; known keys here: {', '.join(properties)}"
            )
        raise ConfigError(f"config key {where}: {error.message}")
    return out


def resolved_config(configfiles=(), base: str | Path = BASE_CONFIG) -> dict:
    """The config the rules read (``CONFIG`` in the Snakefile): merged, presets applied,
    schema defaults, ablation and seed experiments added, checked."""
    config = completed_config(merged_config(configfiles, base))
    return WorkflowPlan.from_config(config, read_yaml(ABLATIONS, "ablation variants"), set(read_yaml(PAPER_RESULTS, "paper results"))).config


def completed_config(config: dict, repo: str | Path = REPO) -> dict:
    """``config`` as Snakemake merged it with its presets applied (what the config does not
    set comes from the named preset) and the schema's defaults filled in (a new dict;
    ConfigError naming a bad key or value): what the Snakefile runs on."""
    return with_schema_defaults(apply_presets(config), Path(repo) / "workflow" / "schemas" / "config.schema.yaml")


# Training keys without a schema default (so that jobs written before them keep their
# parameters), with the value TrainSettings gives them: written out in what `show` prints.
IMPLICIT_TRAIN = {"optimizer": "adam"}


def written_out(preprocess: dict) -> dict:
    """The preprocessing with TV-L1's parameters written out (OpenCV's defaults filled)."""
    return {**preprocess, "flow": tvl1_params(**preprocess.get("flow", {}))}


def experiment_view(config: dict, experiment: str) -> dict:
    """What one experiment runs: its preset, data, protocol, network, training and sampling,
    and the preprocessing of its (first) dataset."""
    plan = WorkflowPlan(config)
    settings = plan.experiment_settings(experiment)
    names = settings["datasets"] or [d for d in (settings["dataset"], settings["test_dataset"]) if d]
    limit = config["experiments"][experiment].get("max_folds")
    return {
        "preset": config["experiments"][experiment].get("preset"),
        **{k: settings[k] for k in ("dataset", "test_dataset", "datasets", "protocol", "init") if settings[k] is not None},
        **({"max_folds": limit} if limit else {}),
        "model": settings["model"],
        "train": {**IMPLICIT_TRAIN, **settings["train"]},
        "sampling": settings["sampling"],
        "preprocess": written_out(plan.dataset_preprocess(names[0])),
        "datasets_used": {name: {**config["datasets"][name], "preprocess": written_out(plan.dataset_preprocess(name))} for name in names},
    }


def paper_reference(schema_path: str | Path = SCHEMA) -> dict:
    """The ``paper`` preset with the schema's defaults: {preprocess, sampling, model, train}
    (a copy: the Snakefile asks once per experiment)."""
    return copy.deepcopy(_paper_reference(str(schema_path)))


@functools.cache
def _paper_reference(schema_path: str) -> dict:
    probe = {"preset": "paper", "datasets": {"d": {"loader": "synthetic", "root": "."}}, "experiments": {"e": {"dataset": "d"}}}
    full = with_schema_defaults(apply_presets(probe), schema_path)
    return {
        "preprocess": written_out(full["preprocess"]),
        "sampling": full["sampling"],
        "model": full["experiments"]["e"]["model"],
        "train": {**IMPLICIT_TRAIN, **full["experiments"]["e"]["train"]},
    }


def preprocess_differences(ours: dict, theirs: dict, prefix: str = "preprocess") -> list[str]:
    """``prefix.key: ours (paper: theirs)`` for every preprocessing key that differs (TV-L1's
    key by key)."""
    out = []
    for key in sorted(set(ours) | set(theirs)):
        if key == "flow":
            out += [f"{prefix}.flow.{k}: {ours[key][k]} (paper: {theirs[key][k]})" for k in ours[key] if ours[key][k] != theirs[key][k]]
        elif ours.get(key) != theirs.get(key):
            out.append(f"{prefix}.{key}: {ours.get(key)} (paper: {theirs.get(key)})")
    return out


def differences(view: dict, paper: dict) -> list[str]:
    """``section.key: ours (paper: theirs)`` for every setting of an experiment's view that
    differs from the paper preset's; the preprocessing of its other datasets too, where it
    differs from the first's (``datasets.<name>.preprocess.key: ...``)."""
    out = [f"max_folds: {view['max_folds']} (paper: every fold)"] if view.get("max_folds") else []
    out += preprocess_differences(view["preprocess"], paper["preprocess"])
    for section in ("sampling", "model", "train"):
        ours, theirs = view[section], paper[section]
        out += [
            f"{section}.{key}: {ours.get(key)} (paper: {theirs.get(key)})"
            for key in sorted(set(ours) | set(theirs))
            if ours.get(key) != theirs.get(key)
        ]
    for name, dataset in list(view.get("datasets_used", {}).items())[1:]:
        if dataset["preprocess"] != view["preprocess"]:
            out += preprocess_differences(dataset["preprocess"], paper["preprocess"], f"datasets.{name}.preprocess")
    return out


def effective_view(config: dict, experiments: list[str] | None = None) -> dict:
    """The effective config to print: the top-level preset and global sections, the datasets,
    and every planned experiment (or ``experiments``) with its differences from the paper."""
    chosen = experiments if experiments is not None else WorkflowPlan(config).planned_experiments()
    unknown = [e for e in chosen if e not in config["experiments"]]
    if unknown:
        raise ConfigError(f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(config['experiments'])}")
    paper = paper_reference()
    view: dict = {"preset": config.get("preset")}
    view.update({section: written_out(config[section]) if section == "preprocess" else config[section] for section in GLOBAL_SECTIONS})
    view["datasets"] = {
        name: {**ds, "preprocess": written_out(ds["preprocess"])} if ds.get("preprocess") else ds for name, ds in config["datasets"].items()
    }
    view["experiments"] = {}
    for name in chosen:
        full = experiment_view(config, name)
        shown = {k: v for k, v in full.items() if k not in ("preprocess", "datasets_used")}  # both printed once, above
        view["experiments"][name] = {**shown, "differs_from_paper": differences(full, paper)}
    return view


def experiment_record(config: dict, experiment: str) -> dict:
    """What ``results/{experiment}/config.yaml`` holds: the experiment's view and its
    differences from the paper preset."""
    view = experiment_view(config, experiment)
    view["differs_from_paper"] = differences(view, paper_reference())
    return view


def dump(view: dict) -> str:
    return yaml.safe_dump(view, sort_keys=False, default_flow_style=False, width=120)


__all__ = ["completed_config", "experiment_record", "effective_view", "merged_config", "preset", "resolved_config", "with_schema_defaults"]
