"""Named builds of the network, in the style of torchvision's ``raft_large()``: each returns a
:class:`MOL` with a preset's options (``mol_core/presets.yaml``, the same ones a config's
``preset`` gives its experiments), any of them overridden by keyword.

``mol_paper`` (the paper's network: shared F5C, the channel-graph CCC, concat fusion, the
FlowNetC-size flow head), ``mol_authors`` (the authors' code: one F5C per frame of a pair, the
spatial-graph CCC), ``mol_demo`` (the 2-core demo's small flow head and levers). The flow
head's options can be given as one :class:`~mol_core.model.heads.FlowHeadOptions`
(``flow=FlowHeadOptions(width=0.5)``), which replaces the preset's ``flow_*`` keys.
"""

from __future__ import annotations

from dataclasses import asdict

from ..util.presets import preset
from .heads import FlowHeadOptions
from .mol import MOL


def mol_preset(name: str, *, num_classes: int, frames: int = 8, flow: FlowHeadOptions | None = None, **overrides) -> MOL:
    """MOL with preset ``name``'s options, ``overrides`` winning (ConfigError for an unknown
    one); ``flow`` sets every flow head option at once."""
    options = {**preset(name)["model"], **overrides}
    if flow is not None:
        options = {k: v for k, v in options.items() if not k.startswith("flow_")}
        options.update({f"flow_{key}": value for key, value in asdict(flow).items()})
    return MOL(num_classes, frames, **options)


def mol_paper(*, num_classes: int, frames: int = 8, flow: FlowHeadOptions | None = None, **overrides) -> MOL:
    return mol_preset("paper", num_classes=num_classes, frames=frames, flow=flow, **overrides)


def mol_authors(*, num_classes: int, frames: int = 8, flow: FlowHeadOptions | None = None, **overrides) -> MOL:
    return mol_preset("authors", num_classes=num_classes, frames=frames, flow=flow, **overrides)


def mol_demo(*, num_classes: int, frames: int = 8, flow: FlowHeadOptions | None = None, **overrides) -> MOL:
    return mol_preset("demo", num_classes=num_classes, frames=frames, flow=flow, **overrides)
