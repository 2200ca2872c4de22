"""SweepConfig's execution and cost fields: defaults, and refusals that name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import SweepConfig, field_errors
from tests.support.sweeps import spec_payload


def sweep(**overrides: object) -> SweepConfig:
    momentum = {"strategy": "MomentumStrategy", "params": STRATEGIES["MomentumStrategy"].default_params()}
    return SweepConfig(**spec_payload(**momentum, name="exec_test", factors="Beta", **overrides))


def test_defaults_are_next_open_fills_and_five_bps_commission() -> None:
    config = sweep()
    assert (config.fill, config.commission_bps, config.slippage_bps, config.borrow_bps) == (
        "next_open",
        5.0,
        0.0,
        0.0,
    )
    assert config.risk_free_rate == 0.0 and config.benchmark == "universe" and config.factor_lags == {}
    again = SweepConfig.from_json(sweep(fill="same_close", benchmark="msft").to_json())
    assert again.fill == "same_close" and again.benchmark == "MSFT"


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"fill": "tomorrow"}, "fill", "next_open, next_close, same_close"),
        ({"commission_bps": -1}, "commission_bps", "between 0 and 1,000 bps"),
        ({"slippage_bps": "x"}, "slippage_bps", "number"),
        ({"borrow_bps": 1e9}, "borrow_bps", "between 0 and 10,000 bps"),
        ({"risk_free_rate": 2}, "risk_free_rate", "annual rate"),
        ({"benchmark": "IBM"}, "benchmark", "not in the universe"),
        ({"factor_lags": {"PriceToBook": 2}}, "factor_lags", "not one of the sweep's factors"),
        ({"factor_lags": {"Beta": 9999}}, "factor_lags", "lag of 0 to"),
    ],
)
def test_bad_execution_fields_are_refused_by_name(overrides: dict, field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        sweep(**overrides)
    errors = field_errors(info.value)
    assert list(errors) == [field]
    assert fragment in errors[field]
