"""The run's configuration: named presets (:mod:`.presets`) and the effective config the
workflow runs (:mod:`.effective`; ``python -m mol_core.config show``)."""

from .presets import DEFAULT_PRESET, apply_presets, preset, preset_names, top_preset

__all__ = ["DEFAULT_PRESET", "apply_presets", "preset", "preset_names", "top_preset"]
