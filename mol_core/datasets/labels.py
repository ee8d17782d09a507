"""Dataset facts (``facts.yaml``): class maps of every protocol, known emotions, exclusions."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from ..errors import MolError

FACTS_FILE = Path(__file__).with_name("facts.yaml")


@functools.cache
def _facts() -> dict:
    with open(FACTS_FILE) as handle:
        return yaml.safe_load(handle)


def dataset_facts(dataset: str) -> dict:
    facts = _facts()
    if dataset not in facts:
        raise MolError(f"no facts for dataset {dataset!r}; known: {', '.join(facts)} ({FACTS_FILE})")
    return facts[dataset]


def default_classes(dataset: str) -> int:
    """The largest protocol of a dataset (5 classes where it has one)."""
    return max(dataset_facts(dataset)["classes"])


def class_map(dataset: str, classes: int | None = None) -> dict[str, list[str]]:
    """Ordered {class name: [emotions]} of a dataset's ``classes``-class protocol."""
    maps = dataset_facts(dataset)["classes"]
    classes = default_classes(dataset) if classes is None else int(classes)
    if classes not in maps:
        raise MolError(f"dataset {dataset!r} has no {classes}-class protocol; available: {sorted(maps)}")
    return maps[classes]


def class_names(dataset: str, classes: int | None = None) -> list[str]:
    return list(class_map(dataset, classes))


def emotion_to_label(dataset: str, classes: int | None = None) -> dict[str, int]:
    """{emotion (lower case): label index} of a protocol; known emotions absent here are left out."""
    return {emotion.lower(): label for label, emotions in enumerate(class_map(dataset, classes).values()) for emotion in emotions}


def known_emotions(dataset: str) -> set[str]:
    return {e.lower() for e in dataset_facts(dataset)["emotions"]}


def excluded_videos(dataset: str, classes: int | None = None) -> set[str]:
    """``subject/video`` keys a protocol leaves out."""
    classes = default_classes(dataset) if classes is None else int(classes)
    return set(dataset_facts(dataset).get("exclude", {}).get(classes, []))


def coding_corrections(dataset: str) -> list[dict]:
    """Errata of a dataset's coding file (``corrections`` in facts.yaml): each finds its row
    by ``row`` [subject, video, onset as written] and sets ``field`` from ``was`` to ``now``."""
    return list(dataset_facts(dataset).get("corrections", []))


def mixed_emotion_separator(dataset: str) -> str | None:
    """The separator of combined emotions ('Surprise+Positive' in 4DME), None where there are none."""
    return dataset_facts(dataset).get("mixed_emotion_separator")
