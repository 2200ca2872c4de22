"""Grid expressions, the strategy catalog and SweepConfig validation."""

from __future__ import annotations

import contextlib
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from airflow_backtest_framework.catalog import FACTORS, STRATEGIES
from airflow_backtest_framework.config import CONTEXT_MAX_GRID_POINTS, MAX_TASKS, SweepConfig, field_errors
from airflow_backtest_framework.grid import GridError, format_values, parse_values
from tests.support.sweeps import grid_params, spec_payload


def errors_of(**overrides: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        SweepConfig(**spec_payload(**overrides))
    return field_errors(info.value)


# --------------------------------------------------------------------------- parse_values


@pytest.mark.parametrize(
    ("expression", "kind", "expected"),
    [
        ("7", "int", [7]),
        ("7,14,21,28", "int", [7, 14, 21, 28]),
        ("7:91:5", "int", [7, 28, 49, 70, 91]),
        ("0.05:0.1:3", "float", [0.05, 0.075, 0.1]),
        ("5,7:91:5", "int", [5, 7, 28, 49, 70, 91]),
        (" 7 , 14 ,\t21 ", "int", [7, 14, 21]),
        ("21,7,14,7", "int", [7, 14, 21]),
        ("0.1,0.15,0.2", "float", [0.1, 0.15, 0.2]),
        ("1:2:4", "int", [1, 2]),  # rounded range points, duplicates dropped
        ("3:3:1", "int", [3]),
        ("0.1:0.3:3", "float", [0.1, 0.2, 0.3]),  # no 0.30000000000000004
        ("2.0,2.5,3.0", "float", [2.0, 2.5, 3.0]),
        ("1e-2", "float", [0.01]),
    ],
)
def test_parse_values_examples(expression: str, kind: str, expected: list) -> None:
    assert parse_values(expression, kind) == expected


def test_parse_values_int_results_are_ints_and_floats_rounded() -> None:
    assert all(type(v) is int for v in parse_values("7:91:5", "int"))
    assert parse_values("0.05:0.25:5", "float") == [0.05, 0.1, 0.15, 0.2, 0.25]
    assert "0.15000000000000002" not in format_values(parse_values("0.05:0.25:5", "float"))


@pytest.mark.parametrize(
    ("expression", "kind", "fragment"),
    [
        ("", "int", "empty"),
        ("   ", "int", "empty"),
        ("7,,14", "int", "empty item"),
        ("abc", "int", "not a number"),
        ("7.5", "int", "whole number"),
        ("7:91", "int", "min:max:count"),
        ("7:91:0", "int", "at least 1"),
        ("7:91:2.5", "int", "whole number of points"),
        ("7:91:1", "int", "needs min = max"),
        ("91:7:5", "int", "greater than max"),
        ("1:100000:20000", "int", "at most 10,000"),
        ("nan", "float", "not a number"),
        ("1e400", "float", "too large"),
    ],
)
def test_parse_values_errors_say_what_is_wrong(expression: str, kind: str, fragment: str) -> None:
    with pytest.raises(GridError) as info:
        parse_values(expression, kind)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_more_than_ten_thousand_values_across_terms_is_rejected() -> None:
    # A list of 10,001 items is refused by the item cap first (tests/unit/test_grid_parser.py).
    with pytest.raises(GridError, match="more than 10,000 values"):
        parse_values("0:9999:10000,10000", "int")
    assert len(parse_values("0:9999:10000", "int")) == 10_000


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("0123456789.,:-+eE x\t")), max_size=30),
    kind=st.sampled_from(["int", "float"]),
)
def test_parse_values_raises_only_grid_error_on_arbitrary_grid_like_text(text: str, kind: str) -> None:
    try:
        values = parse_values(text, kind)
    except GridError:
        return
    assert values == sorted(set(values))
    assert 1 <= len(values) <= 10_000


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_parse_values_raises_only_grid_error_on_any_text(text: str) -> None:
    with contextlib.suppress(GridError):
        parse_values(text, "float")


# --------------------------------------------------------------------------- catalog


def test_catalog_holds_the_product_strategies_with_their_defaults() -> None:
    assert set(STRATEGIES) == {"LongShortEquityStrategy", "MeanReversionStrategy", "MomentumStrategy"}
    ls = STRATEGIES["LongShortEquityStrategy"]
    assert ls.default_params() == {
        "rebalance_period": "7,14,21,28,35",
        "take_profit_pct": "0.1,0.15,0.2",
        "stop_loss_pct": "0.05,0.08,0.1",
        "cooldown_period": "7,14,21",
    }
    assert STRATEGIES["MeanReversionStrategy"].param("cooldown_period").default == "5,10,15"
    assert STRATEGIES["MomentumStrategy"].param("signal_threshold").kind == "float"
    for strategy in STRATEGIES.values():
        for param in strategy.params:
            values = parse_values(param.default, param.kind)
            assert all(param.lower <= v <= param.upper for v in values), param.name
    assert {"NewsSentiment", "DebtToEquity"} <= set(FACTORS)


# --------------------------------------------------------------------------- SweepConfig


def test_valid_sweep_normalises_its_fields() -> None:
    config = SweepConfig(**spec_payload(universe="aapl, msft,AAPL ,brk.b"))
    assert config.universe == ["AAPL", "MSFT", "BRK.B"]
    assert config.factors == ["NewsSentiment", "DebtToEquity"]
    assert config.dag_id == "backtest_mr_test"
    assert config.grid_size == 81


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"name": "Bad Name"}, "name", "lowercase"),
        ({"name": "ab"}, "name", "3 to 60"),
        ({"strategy": "Nope"}, "strategy", "choose one of"),
        ({"universe": ""}, "universe", "at least one symbol"),
        ({"universe": "AAPL,$$$"}, "universe", "not a ticker"),
        ({"universe": ",".join(f"S{i}" for i in range(2001))}, "universe", "at most 2,000"),
        ({"factors": "Astrology"}, "factors", "NewsSentiment"),
        ({"end_date": "2019-01-01"}, "end_date", "after the start date"),
        ({"start_date": "not a date"}, "start_date", "date like"),
        ({"initial_capital": -5}, "initial_capital", "positive"),
        ({"initial_capital": "lots"}, "initial_capital", "number"),
        ({"points_per_task": 0}, "points_per_task", "at least 1"),
        ({"owner": "a b"}, "owner", "letters"),
        ({"description": "x" * 2001}, "description", "2,000"),
    ],
)
def test_every_validation_error_names_its_field(overrides: dict, field: str, fragment: str) -> None:
    errors = errors_of(**overrides)
    assert field in errors, errors
    assert fragment in errors[field]


def test_parameter_errors_are_reported_per_parameter() -> None:
    params = {
        "lookback_period": "7:x",
        "entry_threshold": "",
        "stop_loss_pct": "5",
        "cooldown_period": "5",
        "bogus": "1",
    }
    errors = errors_of(params=params)
    assert "not a range" in errors["params.lookback_period"]
    assert "required" in errors["params.entry_threshold"]
    assert "outside the allowed range" in errors["params.stop_loss_pct"]
    assert "not a parameter of MeanReversionStrategy" in errors["params.bogus"]
    assert "params.cooldown_period" not in errors


def test_total_grid_is_capped_with_a_message_stating_its_size() -> None:
    params = grid_params("MeanReversionStrategy", "2:400:100", "1:9:100", "0.05", "5:15:11")
    errors = errors_of(params=params)
    assert "110,000 points" in errors["params"] and "100,000" in errors["params"]
    bigger = SweepConfig.model_validate(
        spec_payload(params=params), context={CONTEXT_MAX_GRID_POINTS: 200_000}
    )
    assert bigger.grid_size == 110_000


def test_points_per_task_must_keep_tasks_within_airflow_map_length() -> None:
    params = grid_params("MeanReversionStrategy", "2:400:100", "1:9:100", "0.05", "5")
    errors = errors_of(params=params, points_per_task=1)
    assert "use at least 10 points per task" in errors["points_per_task"]
    auto = SweepConfig(**spec_payload(params=params))
    assert auto.task_count <= MAX_TASKS
    assert sum(count for _, count in auto.chunks()) == auto.grid_size


def test_grid_size_and_points_match_the_cartesian_product() -> None:
    config = SweepConfig(
        **spec_payload(params=grid_params("MeanReversionStrategy", "10:30:3", "2,3", "0.05", "1:4:4"))
    )
    names = config.strategy_spec.param_names
    product = list(itertools.product(*(config.values(n) for n in names)))
    assert config.grid_size == len(product) == 24
    assert [tuple(config.point(i).values()) for i in range(config.grid_size)] == product
    with pytest.raises(IndexError):
        config.point(24)


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(min_value=1, max_value=5), min_size=4, max_size=4))
def test_grid_size_equals_number_of_distinct_points(counts: list[int]) -> None:
    params = {
        "lookback_period": f"10:{10 + 10 * counts[0]}:{counts[0]}" if counts[0] > 1 else "10",
        "entry_threshold": ",".join(str(1 + i / 2) for i in range(counts[1])),
        "stop_loss_pct": f"0.01:0.2:{counts[2]}" if counts[2] > 1 else "0.05",
        "cooldown_period": ",".join(str(i) for i in range(counts[3])),
    }
    config = SweepConfig(**spec_payload(params=params))
    points = {tuple(config.point(i).values()) for i in range(config.grid_size)}
    assert config.grid_size == len(points) == counts[0] * counts[1] * counts[2] * counts[3]


def test_json_round_trip_is_exact() -> None:
    config = SweepConfig(
        **spec_payload(
            description='quotes " and \n newlines {{ x }}', points_per_task=3, initial_capital=1234.5
        )
    )
    text = config.to_json()
    again = SweepConfig.from_json(text)
    assert again == config
    assert again.to_json() == text
    assert text.isascii()
    assert json.loads(text)["params"] == config.params


def test_error_messages_never_echo_long_input() -> None:
    errors = errors_of(
        params={**STRATEGIES["MeanReversionStrategy"].default_params(), "lookback_period": "x" * 500}
    )
    assert len(errors["params.lookback_period"]) < 200
