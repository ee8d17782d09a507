"""How a clip index's clips were prepared: the preprocessing settings and the clip sampling.

The workflow knows both and hands them to ``python -m mol_core.clips``; the clip index keeps
the record (column ``preparation``, its JSON, the same on every row), training copies it
into the checkpoint, and the predictor prepares new videos from it. No later stage reads a
store's attributes or parses a flow name to learn them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ..errors import ConfigError
from ..store.keys import PreprocessSettings, flow_name
from .sampling import Sampling


@dataclass(frozen=True)
class Preparation:
    """``preprocess``: the store and flow settings; ``sampling``: the t-frame clips."""

    preprocess: PreprocessSettings
    sampling: Sampling

    @property
    def flow(self) -> str:
        """The name of the clips' flow inside each store."""
        return flow_name(self.sampling, self.preprocess)

    def to_dict(self) -> dict:
        return {"preprocess": self.preprocess.to_dict(), "sampling": asdict(self.sampling)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> Preparation:
        """From :meth:`to_dict`'s form (ConfigError naming what is missing or unknown)."""
        if not isinstance(values, dict) or set(values) != {"preprocess", "sampling"}:
            got = sorted(values) if isinstance(values, dict) else type(values).__name__
            raise ConfigError(f"a preparation record has exactly the keys preprocess and sampling, got {got}")
        return cls(PreprocessSettings.from_dict(values["preprocess"]), Sampling.from_dict(values["sampling"]))

    @classmethod
    def from_json(cls, text: str) -> Preparation:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as error:
            raise ConfigError(f"a preparation record is not JSON ({error})") from None
