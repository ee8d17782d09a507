"""Class maps (emotion of the coding file -> class label) read from ``label_maps.yaml``."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from ..errors import MolError

LABEL_MAPS_FILE = Path(__file__).with_name("label_maps.yaml")


@functools.cache
def _label_maps() -> dict:
    with open(LABEL_MAPS_FILE) as handle:
        return yaml.safe_load(handle)


def default_classes(dataset: str) -> int:
    """The largest protocol of a dataset (5 classes where it has one)."""
    return max(_maps_of(dataset))


def _maps_of(dataset: str) -> dict:
    maps = _label_maps()
    if dataset not in maps:
        raise MolError(f"no class map for dataset {dataset!r}; known: {', '.join(maps)} ({LABEL_MAPS_FILE})")
    return maps[dataset]


def class_map(dataset: str, classes: int | None = None) -> dict[str, list[str]]:
    """Ordered {class name: [emotions]} of a dataset's ``classes``-class protocol."""
    maps = _maps_of(dataset)
    classes = default_classes(dataset) if classes is None else int(classes)
    if classes not in maps:
        raise MolError(f"dataset {dataset!r} has no {classes}-class protocol; available: {sorted(maps)}")
    return maps[classes]


def class_names(dataset: str, classes: int | None = None) -> list[str]:
    return list(class_map(dataset, classes))


def emotion_to_label(dataset: str, classes: int | None = None) -> dict[str, int]:
    """{emotion (lower case): label index}; emotions absent from the map are dropped by loaders."""
    return {
        emotion.lower(): label
        for label, emotions in enumerate(class_map(dataset, classes).values())
        for emotion in emotions
    }
