"""The named presets' data (``mol_core/presets.yaml``: ``paper``, ``authors``, ``demo``), read
by the workflow's config (:mod:`mol_core.config.presets`) and by the model builders
(:func:`mol_core.model.mol_paper` and its twins): one source for both."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

from ..errors import ConfigError

PRESETS_FILE = Path(__file__).resolve().parents[1] / "presets.yaml"


@functools.cache
def _presets() -> dict:
    with open(PRESETS_FILE) as handle:
        return yaml.safe_load(handle)


def preset_names() -> list[str]:
    return list(_presets())


def preset(name: str) -> dict:
    """A copy of preset ``name``: {preprocess, sampling, threads, model, train}."""
    presets = _presets()
    if name not in presets:
        raise ConfigError(f"preset: unknown {name!r}; known: {', '.join(presets)} ({PRESETS_FILE})")
    return copy.deepcopy(presets[name])
