"""Parameter-grid expressions (`7`, `7,14,21`, `7:91:5`) and the mixed-radix grid of a sweep."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Literal

ParamKind = Literal["int", "float"]

MAX_VALUES_PER_PARAM = 10_000
FLOAT_SIGNIFICANT_DIGITS = 10


class GridError(ValueError):
    """A parameter-grid expression that cannot be read; the message says how to write it."""


GRID_HELP = "write a value (7), a list (7,14,21) or a range min:max:count (7:91:5)"
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _round_float(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{FLOAT_SIGNIFICANT_DIGITS}g}")


def _number(text: str, kind: ParamKind) -> float:
    if not _NUMBER.match(text):
        raise GridError(f"'{clip_text(text)}' is not a number; {GRID_HELP}")
    value = float(text)
    if not math.isfinite(value):
        raise GridError(f"'{clip_text(text)}' is too large; {GRID_HELP}")
    if kind == "int" and not value.is_integer():
        raise GridError(f"'{clip_text(text)}' is not a whole number; this parameter takes integers")
    return value


def clip_text(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _range_values(term: str, kind: ParamKind) -> list[float]:
    parts = term.split(":")
    if len(parts) != 3:
        raise GridError(f"'{clip_text(term)}' is not a range; write min:max:count, e.g. 7:91:5")
    low, high = _number(parts[0], "float"), _number(parts[1], "float")
    if not _NUMBER.match(parts[2]) or not float(parts[2]).is_integer():
        raise GridError(
            f"count '{clip_text(parts[2])}' in '{clip_text(term)}' must be a whole number of points (≥ 1)"
        )
    count = int(float(parts[2]))
    if count < 1:
        raise GridError(f"count in '{clip_text(term)}' must be at least 1")
    if low > high:
        raise GridError(
            f"min {format_number(low)} is greater than max {format_number(high)} in '{clip_text(term)}'; "
            "write min:max:count"
        )
    if count == 1:
        if low != high:
            raise GridError(f"count 1 in '{clip_text(term)}' needs min = max; use count ≥ 2 for a range")
        return [low]
    if count > MAX_VALUES_PER_PARAM:
        raise GridError(
            f"'{clip_text(term)}' asks for {count:,} values; at most {MAX_VALUES_PER_PARAM:,} per parameter"
        )
    step = (high - low) / (count - 1)
    values = [low + i * step for i in range(count - 1)] + [high]
    if kind == "int":
        return [float(round(v)) for v in values]
    return values


def parse_values(expression: str, kind: ParamKind) -> list[int] | list[float]:
    """Expand a grid expression into its sorted distinct values.

    `7` → [7]; `7,14,21` → [7, 14, 21]; `7:91:5` → [7, 28, 49, 70, 91] (min:max:count,
    inclusive, evenly spaced); terms may be mixed: `5,7:91:5`. Raises GridError.
    """
    if not isinstance(expression, str) or kind not in ("int", "float"):
        raise GridError(f"expected text and kind 'int' or 'float'; {GRID_HELP}")
    return list(expand_values(expression, kind))


@lru_cache(maxsize=256)
def expand_values(expression: str, kind: ParamKind) -> tuple[int, ...] | tuple[float, ...]:
    """parse_values, memoised: a spec is validated field by field, then as a whole."""
    text = "".join(expression.split())
    if not text:
        raise GridError(f"empty; {GRID_HELP}")
    collected: set[float] = set()
    for term in text.split(","):
        if not term:
            raise GridError(f"empty item between commas; {GRID_HELP}")
        if ":" in term:
            collected.update(_range_values(term, kind))
        elif kind == "int":
            collected.add(_number(term, "int"))
        else:
            collected.add(_number(term, "float"))
        if len(collected) > MAX_VALUES_PER_PARAM:
            raise GridError(
                f"more than {MAX_VALUES_PER_PARAM:,} values in one parameter; use a coarser range"
            )
    if kind == "int":
        return tuple(sorted({int(v) for v in collected}))
    return tuple(sorted({_round_float(v) for v in collected}))


def format_values(values: list[int] | list[float], limit: int = 12) -> str:
    """A short preview of expanded values: the first and last few when there are many."""
    shown = [format_number(v) for v in values]
    if len(shown) <= limit:
        return ", ".join(shown)
    half = limit // 2
    return ", ".join(shown[:half]) + f", … ({len(shown) - limit} more) …, " + ", ".join(shown[-half:])


class Grid:
    """The expanded per-parameter values and mixed-radix indexing (plain attributes: point() is hot)."""

    __slots__ = ("names", "radix", "size", "values")

    def __init__(self, names: tuple[str, ...], values: list[tuple[int, ...] | tuple[float, ...]]) -> None:
        self.names = names
        self.values = tuple(values)
        self.radix = tuple(len(v) for v in values)
        self.size = math.prod(self.radix)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grid) and (self.names, self.values) == (other.names, other.values)

    __hash__ = None  # type: ignore[assignment]

    def digits(self, index: int) -> tuple[int, ...]:
        if not 0 <= index < self.size:
            raise IndexError(f"point {index} outside the grid of {self.size} points")
        digits = [0] * len(self.radix)
        for position in range(len(self.radix) - 1, -1, -1):
            index, digits[position] = divmod(index, self.radix[position])
        return tuple(digits)

    def point(self, index: int) -> dict[str, int | float]:
        digits = self.digits(index)
        return {name: self.values[k][digits[k]] for k, name in enumerate(self.names)}
