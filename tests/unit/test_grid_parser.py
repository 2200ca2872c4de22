"""The grid parser on hostile input: the old grammar, caps checked before parsing, a bounded memo."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_backtest_framework import grid
from airflow_backtest_framework.grid import (
    MAX_EXPRESSION_CHARS,
    MAX_ITEMS_PER_EXPRESSION,
    MAX_VALUES_PER_PARAM,
    MEMO_MAX_EXPRESSION_CHARS,
    BoundedMemo,
    GridError,
    expand_values,
    is_number,
    parse_values,
)

# The number pattern the parser used before the scanner (it backtracks quadratically on `111…1x`):
# kept here as the reference for what must still be accepted. Only short texts are fed to it.
OLD_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
GRID_CHARS = [*"0123456789.,:-+eE x\t", "٣", "１", "_", "\n"]  # Arabic-Indic and fullwidth digits
KINDS = st.sampled_from(["int", "float"])


def outcome(expression: str, kind: str) -> tuple[str, object]:
    try:
        return "values", parse_values(expression, kind)
    except GridError as exc:
        return "error", str(exc)


# --------------------------------------------------------------------------- same grammar as before


@pytest.mark.parametrize(
    "text",
    ["7", "+7", "-7", "7.", ".5", "7.5", "1e-2", "1E+2", "-.5e3", "٣", "1٣", "00", "1.e5"],
)
def test_numbers_accepted_before_are_accepted(text: str) -> None:
    assert is_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "+",
        "-",
        ".",
        "+.",
        "e5",
        ".e5",
        "1e",
        "1e+",
        "1..2",
        "1.2.3",
        "1_0",
        "nan",
        "inf",
        "0x1",
        "1 2",
        "7\n",
    ],
)
def test_texts_refused_before_are_refused(text: str) -> None:
    assert not is_number(text)


@settings(max_examples=600, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.+-eEx٣")), max_size=12))
def test_scanner_accepts_exactly_what_the_old_pattern_accepted(text: str) -> None:
    assert is_number(text) == bool(OLD_NUMBER.match(text))


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(GRID_CHARS), max_size=40), kind=KINDS)
def test_whole_expressions_read_exactly_as_with_the_old_pattern(text: str, kind: str) -> None:
    ours = outcome(text, kind)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid, "is_number", lambda term: bool(OLD_NUMBER.match(term)))
        grid.expand_values.cache_clear()
        before = outcome(text, kind)
    grid.expand_values.cache_clear()
    assert ours == before


# --------------------------------------------------------------------------- any text: values or GridError


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=MAX_EXPRESSION_CHARS + 50), kind=KINDS)
def test_any_text_parses_or_raises_grid_error(text: str, kind: str) -> None:
    try:
        values = parse_values(text, kind)
    except GridError as exc:
        assert str(exc)
        return
    assert values == sorted(set(values))
    assert 1 <= len(values) <= MAX_VALUES_PER_PARAM


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(GRID_CHARS), min_size=900, max_size=MAX_EXPRESSION_CHARS + 100),
    kind=KINDS,
)
def test_long_grid_like_text_parses_or_raises_grid_error(text: str, kind: str) -> None:
    try:
        values = parse_values(text, kind)
    except GridError:
        return
    assert 1 <= len(values) <= MAX_VALUES_PER_PARAM


# --------------------------------------------------------------------------- caps, checked before parsing


def test_near_miss_numbers_of_any_length_are_refused() -> None:
    with pytest.raises(GridError, match="is not a number"):
        parse_values("1" * (MAX_EXPRESSION_CHARS - 1) + "x", "int")
    with pytest.raises(GridError) as info:
        parse_values("1" * 15_000 + "x", "int")
    assert str(info.value).startswith("at most 1,000 characters (got 15,001)")


def test_an_expression_at_the_character_cap_is_read_and_one_more_character_is_not() -> None:
    at_cap = "1:500:" + "5".rjust(MAX_EXPRESSION_CHARS - len("1:500:"), "0")
    assert len(at_cap) == MAX_EXPRESSION_CHARS
    assert parse_values(at_cap, "int") == [1, 126, 250, 375, 500]
    with pytest.raises(GridError) as info:
        parse_values(at_cap + " ", "int")
    message = str(info.value)
    assert "at most 1,000 characters (got 1,001)" in message
    assert "min:max:count" in message  # says what to write instead


def test_the_character_cap_comes_before_parsing() -> None:
    # A million characters of junk get the cap's message, not the parser's 'is not a number'.
    with pytest.raises(GridError, match=r"^at most 1,000 characters \(got 1,000,000\)"):
        parse_values("x" * 1_000_000, "float")


def test_list_items_are_capped_with_a_message_naming_the_cap() -> None:
    at_cap = ",".join(str(i) for i in range(MAX_ITEMS_PER_EXPRESSION))
    assert len(parse_values(at_cap, "int")) == MAX_ITEMS_PER_EXPRESSION
    with pytest.raises(GridError) as info:
        parse_values(at_cap + ",999", "int")
    assert str(info.value).startswith("at most 250 items separated by commas (got 251)")


# --------------------------------------------------------------------------- the memo


def counting(calls: list[str]):
    def expand(expression: str, kind: str) -> tuple[int, ...]:
        calls.append(expression)
        return tuple(range(int(expression)))

    return expand


def test_memo_returns_kept_values_without_expanding_again() -> None:
    calls: list[str] = []
    memo = BoundedMemo(counting(calls), max_entries=4, max_expression_chars=10, max_values=100)
    assert memo("3", "int") == memo("3", "int") == (0, 1, 2)
    assert calls == ["3"]


def test_memo_keeps_at_most_its_entries_and_its_values() -> None:
    memo = BoundedMemo(counting([]), max_entries=4, max_expression_chars=10, max_values=100)
    for count in range(1, 30):
        memo(str(count), "int")
    info = memo.cache_info()
    assert info.entries <= 4 and info.values <= 100
    memo("99", "int")  # the newest entry alone nearly fills the budget: older ones are dropped
    assert memo.cache_info().values == 99 and memo.cache_info().entries == 1
    memo("101", "int")  # larger than the whole budget: returned, never kept
    assert memo.cache_info().values == 99


def test_memo_never_keeps_a_long_expression() -> None:
    calls: list[str] = []
    memo = BoundedMemo(counting(calls), max_entries=4, max_expression_chars=3, max_values=10_000)
    assert memo("0005", "int") == memo("0005", "int") == (0, 1, 2, 3, 4)
    assert calls == ["0005", "0005"]
    assert memo.cache_info().entries == 0


def test_the_parsers_memo_holds_neither_long_expressions_nor_failures() -> None:
    expand_values.cache_clear()
    long_valid = ",".join(["7"] * 200)  # 399 characters, under the input cap but over the memo's key cap
    assert len(long_valid) > MEMO_MAX_EXPRESSION_CHARS
    assert expand_values(long_valid, "int") == (7,)
    with pytest.raises(GridError):
        expand_values("7:x", "int")
    assert expand_values.cache_info().entries == 0
    for count in range(2, 400):
        expand_values(f"1:{count * 10}:{count}", "int")
    info = expand_values.cache_info()
    assert info.entries <= grid.MEMO_MAX_ENTRIES
    assert info.values <= grid.MEMO_MAX_VALUES
    assert info.longest_expression <= MEMO_MAX_EXPRESSION_CHARS
    expand_values.cache_clear()
