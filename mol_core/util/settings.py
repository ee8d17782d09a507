"""Settings dataclasses made from a config section or a JSON argument."""

from __future__ import annotations

from dataclasses import MISSING, fields

from ..errors import ConfigError


def from_fields(cls, values: dict, what: str):
    """``cls(**values)`` for a dataclass of settings; ConfigError naming ``what`` (e.g.
    "train settings") and the keys it does not have, or the required ones missing."""
    if not isinstance(values, dict):
        raise ConfigError(f"{what} must be a mapping of names to values, got {values!r}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; known: {', '.join(known)}")
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING and f.name not in values]
    if missing:
        raise ConfigError(f"{what}: missing {missing}")
    return cls(**values)
