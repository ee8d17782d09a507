"""Named presets (``mol_core/presets.yaml``: ``paper``, ``authors``, ``demo``) and how a config uses
them: the top-level ``preset`` fills ``preprocess``, ``sampling`` and ``threads``; each
experiment's ``preset`` (default: the top one) fills its ``model`` and ``train``; a
dataset's ``preset`` (or its own ``preprocess`` keys) its preprocessing. What the
config sets wins, key by key; nothing else of a preset reaches a run of another.

Imports nothing heavy: the Snakefile calls :func:`apply_presets` before schema validation.
"""

from __future__ import annotations

import copy

from ..errors import ConfigError
from ..util.presets import preset, preset_names
from ..workflow_config import merged

DEFAULT_PRESET = "paper"
GLOBAL_SECTIONS = ("preprocess", "sampling", "threads")  # filled by the top-level preset
EXPERIMENT_SECTIONS = ("model", "train")  # filled by the experiment's preset
# What `loss_balance: authors` (and `authors_readme`) sets itself (MOLLoss.for_balance): a run that also sets one of
# these would not get what it asks for, so it is refused.
AUTHORS_BALANCE_OVERRIDES = ("lambda_flow", "lambda_landmark", "landmark_normaliser", "flow_loss")


def top_preset(config: dict) -> str:
    return config.get("preset") or DEFAULT_PRESET


def apply_presets(config: dict) -> dict:
    """A new config: every section a preset fills, filled (the config's own keys win);
    ``preset`` written at the top and in every experiment; a top-level ``max_folds`` given
    to every experiment without its own; a dataset that names a ``preset`` or sets
    ``preprocess`` gets its whole preprocessing (that preset's, or the top-level one, with
    its own keys over it). ConfigError for an unknown preset
    or a ``loss_balance: authors`` beside a setting it overrides."""
    out = copy.deepcopy(config)
    top = top_preset(config)
    base = preset(top)
    out["preset"] = top
    for section in GLOBAL_SECTIONS:
        out[section] = merged(base[section], config.get(section) or {})
    for name, dataset in (config.get("datasets") or {}).items():
        if isinstance(dataset, dict) and (dataset.get("preset") or dataset.get("preprocess")):
            start = preset(dataset["preset"])["preprocess"] if dataset.get("preset") else out["preprocess"]
            out["datasets"][name]["preprocess"] = merged(start, dataset.get("preprocess") or {})
    for name, exp in (config.get("experiments") or {}).items():
        if config.get("max_folds") and exp.get("max_folds") is None:
            out["experiments"][name]["max_folds"] = config["max_folds"]
        chosen = exp.get("preset") or top
        values = preset(chosen)
        resolved = out["experiments"][name]
        resolved["preset"] = chosen
        for section in EXPERIMENT_SECTIONS:
            resolved[section] = merged(values[section], exp.get(section) or {})
        _check_authors_balance(name, exp.get("train") or {}, resolved["train"])
    return out


def _check_authors_balance(name: str, own: dict, train: dict) -> None:
    """``loss_balance: authors`` sets the loss weights itself: refuse the keys it would override
    that the experiment sets, naming them; those its preset gave are dropped (unused)."""
    balance = train.get("loss_balance")
    if balance not in ("authors", "authors_readme"):
        return
    given = [key for key in AUTHORS_BALANCE_OVERRIDES if key in own]
    if given:
        raise ConfigError(
            f"experiments.{name}.train: loss_balance: {balance} sets the loss weights itself (the authors' code), so "
            f"{', '.join(given)} would not be used; remove {'it' if len(given) == 1 else 'them'}, or use loss_balance: paper"
        )
    for key in AUTHORS_BALANCE_OVERRIDES:
        train.pop(key, None)


__all__ = ["apply_presets", "merged", "preset", "preset_names", "top_preset"]
