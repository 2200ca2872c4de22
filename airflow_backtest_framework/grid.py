"""Parameter-grid expressions (`7`, `7,14,21`, `7:91:5`) and the mixed-radix grid of a sweep."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ParamKind = Literal["int", "float"]

MAX_VALUES_PER_PARAM = 10_000
FLOAT_SIGNIFICANT_DIGITS = 10
# Input caps, checked before any parsing: far above what a researcher types (a range covers many values).
MAX_EXPRESSION_CHARS = 1_000
MAX_ITEMS_PER_EXPRESSION = 250
# The memo of expansions: entries, the longest expression it keeps, and the values it may hold in all.
MEMO_MAX_ENTRIES = 256
MEMO_MAX_EXPRESSION_CHARS = 256
MEMO_MAX_VALUES = 100_000


class GridError(ValueError):
    """A parameter-grid expression that cannot be read; the message says how to write it."""


GRID_HELP = "write a value (7), a list (7,14,21) or a range min:max:count (7:91:5)"
_SIGNS = ("+", "-")
_EXPONENTS = ("e", "E")


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _round_float(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{FLOAT_SIGNIFICANT_DIGITS}g}")


def _digits_end(text: str, at: int) -> int:
    """The index after the run of decimal digits starting at `at` (any Unicode digit, as float() reads)."""
    end = len(text)
    while at < end and text[at].isdecimal():
        at += 1
    return at


def is_number(text: str) -> bool:
    """`[+-]digits[.digits][(e|E)[+-]digits]` or `[+-].digits[exponent]`, read in one pass.

    A regex with two optional digit runs side by side backtracks quadratically on a near miss
    such as `111…1x` (13 s for 15,000 characters); this scanner looks at each character once.
    """
    at = 1 if text.startswith(_SIGNS) else 0
    whole_end = _digits_end(text, at)
    digits = whole_end - at
    at = whole_end
    if at < len(text) and text[at] == ".":
        fraction_end = _digits_end(text, at + 1)
        digits += fraction_end - at - 1
        at = fraction_end
    if digits == 0:
        return False
    if at < len(text) and text[at] in _EXPONENTS:
        at += 1
        if at < len(text) and text[at] in _SIGNS:
            at += 1
        exponent_end = _digits_end(text, at)
        if exponent_end == at:
            return False
        at = exponent_end
    return at == len(text)


def _number(text: str, kind: ParamKind) -> float:
    if not is_number(text):
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
    if not is_number(parts[2]) or not float(parts[2]).is_integer():
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
    inclusive, evenly spaced); terms may be mixed: `5,7:91:5`. Raises GridError, also for text
    over MAX_EXPRESSION_CHARS or MAX_ITEMS_PER_EXPRESSION (checked before parsing).
    """
    if not isinstance(expression, str) or kind not in ("int", "float"):
        raise GridError(f"expected text and kind 'int' or 'float'; {GRID_HELP}")
    return list(expand_values(expression, kind))


Values = tuple[int, ...] | tuple[float, ...]
_MANY_VALUES_HINT = "a range min:max:count (7:91:5) covers many values"


def check_expression_size(expression: str) -> None:
    """Refuse an expression over the character or item cap, before any parsing looks at it."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise GridError(
            f"at most {MAX_EXPRESSION_CHARS:,} characters (got {len(expression):,}); {_MANY_VALUES_HINT}"
        )
    items = expression.count(",") + 1
    if items > MAX_ITEMS_PER_EXPRESSION:
        raise GridError(
            f"at most {MAX_ITEMS_PER_EXPRESSION:,} items separated by commas (got {items:,}); "
            + _MANY_VALUES_HINT
        )


def _expand_values(expression: str, kind: ParamKind) -> Values:
    check_expression_size(expression)
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


@dataclass(frozen=True)
class MemoInfo:
    """What a BoundedMemo holds now: entries, values in all, and its longest expression."""

    entries: int
    values: int
    longest_expression: int


class BoundedMemo:
    """A thread-safe LRU memo of expansions, bounded by size as well as by entries.

    functools.lru_cache counts entries only: 256 large inputs, or 256 ranges of 10,000 values,
    would stay pinned in every worker. Here an expression longer than `max_expression_chars`
    is never kept, nor is its hash computed, and the values held in all stay under `max_values`.
    """

    def __init__(
        self,
        func: Callable[[str, ParamKind], Values],
        max_entries: int,
        max_expression_chars: int,
        max_values: int,
    ) -> None:
        self._func = func
        self._max_entries = max_entries
        self._max_expression_chars = max_expression_chars
        self._max_values = max_values
        self._entries: OrderedDict[tuple[str, str], Values] = OrderedDict()
        self._values = 0
        self._lock = threading.Lock()

    def __call__(self, expression: str, kind: ParamKind) -> Values:
        key = (expression, kind) if len(expression) <= self._max_expression_chars else None
        if key is not None:
            with self._lock:
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
                    return found
        values = self._func(expression, kind)
        if key is not None and len(values) <= self._max_values:
            self._keep(key, values)
        return values

    def _keep(self, key: tuple[str, str], values: Values) -> None:
        with self._lock:
            if key in self._entries:  # another thread expanded it meanwhile
                return
            self._entries[key] = values
            self._values += len(values)
            while len(self._entries) > self._max_entries or self._values > self._max_values:
                _, dropped = self._entries.popitem(last=False)
                self._values -= len(dropped)

    def cache_clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._values = 0

    def cache_info(self) -> MemoInfo:
        with self._lock:
            longest = max((len(expression) for expression, _ in self._entries), default=0)
            return MemoInfo(entries=len(self._entries), values=self._values, longest_expression=longest)


# parse_values, memoised: a spec is validated field by field, then as a whole.
expand_values = BoundedMemo(
    _expand_values,
    max_entries=MEMO_MAX_ENTRIES,
    max_expression_chars=MEMO_MAX_EXPRESSION_CHARS,
    max_values=MEMO_MAX_VALUES,
)


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
