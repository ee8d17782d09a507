"""Action units from the owners' AU strings ('4+R12B', 'AU4+AU7(k)', 'L14, 17', 'T18+B23').

Each AU keeps its number apart from its side prefix (L left, R right; CAS(ME)^3 also writes
T and B), its FACS intensity suffix (A-E) and an uncertainty mark ('(k)' in 4DME, '?').
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AU_SEPARATORS = re.compile(r"[+,\uff0c]")  # '+', ',' and the full-width comma of CAS(ME)^3 part C
AU_TOKEN = re.compile(r"(?:AU)?\s*(?P<side>[LRTB]?)\s*(?P<number>\d+)(?P<intensity>[A-E]?)\s*(?P<uncertain>\(k\)|\?)?", re.IGNORECASE)
NO_ACTION_UNITS = {"", "/", "-", "nan", "none"}


@dataclass(frozen=True, order=True)
class ActionUnit:
    """One coded action unit: FACS ``number``, ``side`` ('' both, 'L', 'R', 'T', 'B'),
    ``intensity`` ('' or 'A'-'E'), ``uncertain`` when the coder marked it so."""

    number: int
    side: str = ""
    intensity: str = ""
    uncertain: bool = False

    def __str__(self) -> str:
        return f"{self.side}{self.number}{self.intensity}" + ("(k)" if self.uncertain else "")


def parse_action_units(text) -> tuple[tuple[ActionUnit, ...], list[str]]:
    """(action units in the order written, the parts of ``text`` that are not an AU)."""
    text = "" if text is None else str(text).strip()
    if text.lower() in NO_ACTION_UNITS:
        return (), []
    units, not_understood = [], []
    for part in (p.strip() for p in AU_SEPARATORS.split(text)):
        if not part:
            continue
        match = AU_TOKEN.fullmatch(part)
        if match is None:
            not_understood.append(part)
            continue
        units.append(ActionUnit(int(match["number"]), match["side"].upper(), match["intensity"].upper(), match["uncertain"] is not None))
    return tuple(units), not_understood


def format_action_units(units) -> str:
    """The canonical text of parsed AUs ('4+R12B+7(k)'), which :func:`parse_action_units` reads back."""
    return "+".join(str(unit) for unit in units)
