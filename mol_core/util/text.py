"""Small pieces of the messages the user reads."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 subject``, ``2 subjects`` (``plural`` for nouns that do not just add an s)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def number_range(numbers: list[int], noun: str = "frame") -> str:
    """``frame 30`` for one number, ``frames 3..7`` for the span of several (sorted)."""
    if len(numbers) == 1:
        return f"{noun} {numbers[0]}"
    return f"{noun}s {numbers[0]}..{numbers[-1]}"
