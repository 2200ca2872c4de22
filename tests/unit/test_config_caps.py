"""Every text field of a SweepConfig is capped, and the message names the field, the cap and the length."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from airflow_backtest_framework.catalog import FACTORS, STRATEGIES
from airflow_backtest_framework.config import (
    MAX_DATE_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_FACTORS_CHARS,
    MAX_OWNER_CHARS,
    MAX_PARAM_ENTRIES,
    MAX_STRATEGY_CHARS,
    MAX_SYMBOL_CHARS,
    MAX_SYMBOLS,
    MAX_UNIVERSE_CHARS,
    SweepConfig,
    describe_validation_error,
    field_errors,
)
from airflow_backtest_framework.grid import MAX_EXPRESSION_CHARS, MAX_ITEMS_PER_EXPRESSION
from airflow_backtest_framework.names import MAX_NAME_CHARS

MR = "MeanReversionStrategy"


def sweep(**overrides: object) -> dict:
    base = {
        "name": "mr_caps",
        "strategy": MR,
        "params": STRATEGIES[MR].default_params(),
        "universe": "AAPL,MSFT",
        "factors": "NewsSentiment",
        "start_date": "2020-01-01",
        "end_date": "2022-12-31",
    }
    return {**base, **overrides}


def refusal(**overrides: object) -> tuple[dict[str, str], str]:
    """({field: message}, the one-line description) of a spec that must be refused."""
    with pytest.raises(ValidationError) as info:
        SweepConfig(**sweep(**overrides))
    return field_errors(info.value), describe_validation_error(info.value)


def with_param(name: str, expression: str) -> dict[str, str]:
    return {**STRATEGIES[MR].default_params(), name: expression}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "a" * 61}, "name", "at most 60 characters (got 61)"),
        ({"strategy": "S" * 101}, "strategy", "at most 100 characters (got 101)"),
        ({"params": {f"p{i}": "1" for i in range(33)}}, "params", "at most 32 parameters (got 33)"),
        (
            {"params": with_param("lookback_period", "1" * 15_000 + "x")},
            "params.lookback_period",
            "at most 1,000 characters (got 15,001)",
        ),
        (
            {"params": with_param("lookback_period", ",".join(["20"] * 251))},
            "params.lookback_period",
            "at most 250 items separated by commas (got 251)",
        ),
        ({"universe": "A," * 20_001}, "universe", "at most 40,000 characters (got 40,002)"),
        ({"universe": ["AAPL"] * 10_000}, "universe", "at most 40,000 characters (got 49,999)"),
        (
            {"universe": "AAPL,ABCDEFGHIJKLMNOP"},
            "universe",
            "symbol 'ABCDEFGHIJKLMNOP': at most 15 characters (got 16)",
        ),
        ({"factors": "NewsSentiment," * 100}, "factors", "at most 1,000 characters (got 1,400)"),
        ({"factors": ["Beta"] * 300}, "factors", "at most 1,000 characters (got 1,499)"),
        ({"start_date": "2020-01-01T00:00:00" + "0" * 20}, "start_date", "at most 32 characters (got 39)"),
        ({"end_date": "9" * 1_000_000}, "end_date", "at most 32 characters (got 1,000,000)"),
        ({"owner": "o" * 65}, "owner", "at most 64 characters (got 65)"),
        ({"description": "x" * 2_001}, "description", "at most 2,000 characters (got 2,001)"),
    ],
)
def test_each_cap_names_its_field_the_cap_and_the_length(overrides: dict, field: str, message: str) -> None:
    errors, line = refusal(**overrides)
    assert errors[field].startswith(message), errors
    assert f"{field}: {message}" in line


def test_caps_match_their_named_constants() -> None:
    assert (MAX_NAME_CHARS, MAX_STRATEGY_CHARS, MAX_PARAM_ENTRIES) == (60, 100, 32)
    assert (MAX_EXPRESSION_CHARS, MAX_ITEMS_PER_EXPRESSION) == (1_000, 250)
    assert (MAX_UNIVERSE_CHARS, MAX_SYMBOL_CHARS, MAX_FACTORS_CHARS) == (40_000, 15, 1_000)
    assert (MAX_DATE_CHARS, MAX_OWNER_CHARS, MAX_DESCRIPTION_CHARS) == (32, 64, 2_000)


def test_a_spec_at_every_cap_is_accepted() -> None:
    longest_tickers = [f"A{i:09d}.ABCD" for i in range(MAX_SYMBOLS)]  # the most the ticker rule allows
    assert all(len(symbol) == MAX_SYMBOL_CHARS for symbol in longest_tickers)
    config = SweepConfig(
        **sweep(
            name="n" * MAX_NAME_CHARS,
            params=with_param(
                "lookback_period", ",".join(["20"] * (MAX_ITEMS_PER_EXPRESSION - 1) + ["3:9:3"])
            ),
            universe=",".join(longest_tickers),
            factors=",".join(FACTORS),
            start_date="2020-01-01T00:00:00.000000+00:00",
            owner="o" * MAX_OWNER_CHARS,
            description="d" * MAX_DESCRIPTION_CHARS,
        )
    )
    assert len(config.universe) == MAX_SYMBOLS
    assert config.values("lookback_period") == [3, 6, 9, 20]


def test_an_expression_over_the_cap_is_refused_even_when_it_is_only_spaces_around_a_value() -> None:
    errors, _ = refusal(params=with_param("cooldown_period", " " * MAX_EXPRESSION_CHARS + "5"))
    assert errors["params.cooldown_period"].startswith("at most 1,000 characters (got 1,001)")


def test_unknown_parameter_names_are_clipped_in_messages() -> None:
    errors, line = refusal(params={**STRATEGIES[MR].default_params(), "z" * 100_000: "1"})
    assert len(line) < 500
    assert any(key.startswith("params.zzz") and len(key) < 40 for key in errors)


def test_a_huge_number_instead_of_an_expression_is_a_validation_error() -> None:
    errors, _ = refusal(params=with_param("lookback_period", 10**5_000))
    assert errors["params.lookback_period"].startswith("a number too long to read; write a value (7)")
    assert SweepConfig(**sweep(params=with_param("lookback_period", 25))).values("lookback_period") == [25]
    errors, _ = refusal(points_per_task="1" * 100_000)
    assert errors["points_per_task"] == "must be a whole number"


TEXT_FIELDS = ["name", "strategy", "universe", "factors", "start_date", "end_date", "owner", "description"]


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from([*TEXT_FIELDS, "lookback_period"]), text=st.text(max_size=3_000))
def test_any_text_in_any_field_is_accepted_or_refused_with_a_validation_error(field: str, text: str) -> None:
    overrides = {"params": with_param(field, text)} if field == "lookback_period" else {field: text}
    try:
        SweepConfig(**sweep(**overrides))
    except ValidationError as exc:
        errors = field_errors(exc)
        if field == "lookback_period":
            assert set(errors) == {"params.lookback_period"}, errors
        else:  # a valid start date after the end date is reported on end_date
            assert field in errors or (field == "start_date" and set(errors) == {"end_date"}), errors
        assert all(len(message) < 500 for message in errors.values())
