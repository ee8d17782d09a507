"""One default per setting: the config schema's defaults equal the dataclasses' and the model's."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import yaml

from mol_core.model import MOL
from mol_core.store.keys import PreprocessSettings
from mol_core.synthetic import SyntheticSettings
from mol_core.train.loop import TrainSettings

from .conftest import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
EXPERIMENT = SCHEMA["properties"]["experiments"]["additionalProperties"]["properties"]


def schema_defaults(section: dict) -> dict:
    return {name: spec["default"] for name, spec in section["properties"].items() if "default" in spec}


def normalised(value):
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(
    "section, defaults",
    [
        (EXPERIMENT["train"], {f.name: f.default for f in dataclasses.fields(TrainSettings)}),
        (
            SCHEMA["properties"]["preprocess"],
            {f.name: f.default for f in dataclasses.fields(PreprocessSettings) if f.default is not dataclasses.MISSING},
        ),
        (SCHEMA["properties"]["synthetic"], {f.name: f.default for f in dataclasses.fields(SyntheticSettings)}),
        (
            EXPERIMENT["model"],
            {name: p.default for name, p in inspect.signature(MOL).parameters.items() if p.default is not inspect.Parameter.empty},
        ),
    ],
    ids=["train", "preprocess", "synthetic", "model"],
)
def test_schema_defaults_equal_the_code_defaults(section, defaults):
    schema = schema_defaults(section)
    shared = set(schema) & set(defaults)
    assert shared, "no setting in common: the comparison is broken"
    assert {k: schema[k] for k in shared} == {k: normalised(defaults[k]) for k in shared}
    # Every option the code takes can be set from the config (and nothing else).
    options = set(section["properties"])
    missing = set(defaults) - options - {"frames", "classes", "flow"}  # frames: from sampling; classes, flow: no scalar default
    assert not missing, f"settings without a schema entry: {sorted(missing)}"
