"""Named builds of the network, in the style of torchvision's ``raft_large()``: each returns a
:class:`MOL` with a preset's options (``mol_core/presets.yaml``, the same ones a config's
``preset`` gives its experiments), any of them overridden by keyword.

``mol_paper`` (the paper's network: shared F5C, the channel-graph CCC, concat fusion, the
FlowNetC-size flow head), ``mol_authors`` (the authors' code: one F5C per frame of a pair, the
spatial-graph CCC), ``mol_demo`` (the 2-core demo's small flow head and levers).
"""

from __future__ import annotations

from ..util.presets import preset
from .mol import MOL


def mol_preset(name: str, *, num_classes: int, frames: int = 8, **overrides) -> MOL:
    """MOL with preset ``name``'s options, ``overrides`` winning (ConfigError for an unknown one)."""
    return MOL(num_classes, frames, **{**preset(name)["model"], **overrides})


def mol_paper(*, num_classes: int, frames: int = 8, **overrides) -> MOL:
    return mol_preset("paper", num_classes=num_classes, frames=frames, **overrides)


def mol_authors(*, num_classes: int, frames: int = 8, **overrides) -> MOL:
    return mol_preset("authors", num_classes=num_classes, frames=frames, **overrides)


def mol_demo(*, num_classes: int, frames: int = 8, **overrides) -> MOL:
    return mol_preset("demo", num_classes=num_classes, frames=frames, **overrides)
