"""Action units from the owners' AU strings ('4+R12B', 'AU4+AU7(k)', 'L14, 17', 'T18+B23').

Each AU keeps its number apart from its side prefix (L left, R right; CAS(ME)^3 also writes
T and B; SAMM's key: A asymmetric, "occurs on both sides but stronger on one"), its FACS
intensity suffix (A-E) and an uncertainty mark ('(k)' in 4DME, '?').

SAMM's own notation, as its file's key defines it: ``/`` is "or" inside one AU (``10A/B``:
intensity A or B; ``A/L12``: asymmetric or left), kept as written in ``side`` or
``intensity``; ``X or Y`` (``L12 or L14``, ``(R6 or R12)``) are alternative AUs, each kept
with the number of its group in ``alternative``; ``ref(X)`` (not defined by the key) keeps
AU X with ``qualifier`` 'ref'. Text that is no AU ('soft focus') is returned as not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AU_SEPARATORS = re.compile(r"[+,\uff0c]")  # '+', ',' and the full-width comma of CAS(ME)^3 part C
AU_TOKEN = re.compile(
    r"(?:AU)?\s*(?P<side>(?:[LRTBA](?:/[LRTBA])*)?)\s*(?P<number>\d+)(?P<intensity>(?:[A-E](?:/[A-E])*)?)\s*(?P<uncertain>\(k\)|\?)?",
    re.IGNORECASE,
)
QUALIFIED = re.compile(r"(?P<qualifier>ref)\s*\((?P<inner>[^()]*)\)", re.IGNORECASE)
ALTERNATIVES = re.compile(r"\s+or\s+", re.IGNORECASE)
NO_ACTION_UNITS = {"", "/", "-", "nan", "none"}


@dataclass(frozen=True, order=True)
class ActionUnit:
    """One coded action unit: FACS ``number``, ``side`` ('' both, 'L', 'R', 'T', 'B', 'A'
    asymmetric, or alternatives written with '/'), ``intensity`` ('' or 'A'-'E', or
    alternatives 'A/B'), ``uncertain`` when the coder marked it so, ``alternative`` the
    number (from 1) of the "X or Y" group it belongs to (0: none), ``qualifier`` ('ref'
    for SAMM's ``ref(X)``, else '')."""

    number: int
    side: str = ""
    intensity: str = ""
    uncertain: bool = False
    alternative: int = 0
    qualifier: str = ""

    def __str__(self) -> str:
        text = f"{self.side}{self.number}{self.intensity}" + ("(k)" if self.uncertain else "")
        return f"{self.qualifier}({text})" if self.qualifier else text


def _unit(text: str, alternative: int, qualifier: str = "") -> ActionUnit | None:
    match = AU_TOKEN.fullmatch(text.strip())
    if match is None:
        return None
    return ActionUnit(
        int(match["number"]), match["side"].upper(), match["intensity"].upper(), match["uncertain"] is not None, alternative, qualifier
    )


def parse_action_units(text) -> tuple[tuple[ActionUnit, ...], list[str]]:
    """(action units in the order written, the parts of ``text`` that are not an AU)."""
    text = "" if text is None else str(text).strip()
    if text.lower() in NO_ACTION_UNITS:
        return (), []
    units: list[ActionUnit] = []
    not_understood: list[str] = []
    groups = 0
    for part in (p.strip() for p in AU_SEPARATORS.split(text)):
        if not part:
            continue
        choices = ALTERNATIVES.split(part.removeprefix("(").removesuffix(")") if part.startswith("(") and part.endswith(")") else part)
        group = 0
        if len(choices) > 1:
            groups += 1
            group = groups
        parsed = []
        for choice in choices:
            qualified = QUALIFIED.fullmatch(choice.strip())
            unit = _unit(qualified["inner"], group, qualified["qualifier"].lower()) if qualified else _unit(choice, group)
            parsed.append(unit)
        if any(unit is None for unit in parsed):
            not_understood.append(part)
        else:
            units += [unit for unit in parsed if unit is not None]
    return tuple(units), not_understood


def format_action_units(units) -> str:
    """The canonical text of parsed AUs ('4+R12B+7(k)', 'L12 or L14', 'ref(43)'), which
    :func:`parse_action_units` reads back."""
    parts: list[str] = []
    previous = 0
    for unit in units:
        if unit.alternative and unit.alternative == previous:
            parts[-1] += f" or {unit}"
        else:
            parts.append(str(unit))
        previous = unit.alternative
    return "+".join(parts)
