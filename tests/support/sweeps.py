"""Small sweeps shared by the tests."""

from __future__ import annotations

from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import SweepConfig

SMALL_PARAMS = {
    "LongShortEquityStrategy": {
        "rebalance_period": "7,14",
        "take_profit_pct": "0.1,0.2",
        "stop_loss_pct": "0.05",
        "cooldown_period": "7",
    },
    "MeanReversionStrategy": {
        "lookback_period": "20:40:3",
        "entry_threshold": "2.0,2.5",
        "stop_loss_pct": "0.05",
        "cooldown_period": "5",
    },
    "MomentumStrategy": {
        "momentum_period": "10,20",
        "signal_threshold": "0.05",
        "stop_loss_pct": "0.05,0.1",
        "cooldown_period": "3",
    },
}


def small_sweep(
    strategy: str = "MeanReversionStrategy", name: str | None = None, **overrides: object
) -> SweepConfig:
    """A few-point sweep over a handful of symbols and two years."""
    data = {
        "name": name or f"t_{STRATEGIES[strategy].name.lower()[:12]}",
        "strategy": strategy,
        "params": SMALL_PARAMS[strategy],
        "universe": ["AAPL", "MSFT", "GOOGL", "AMZN", "JPM", "XOM"],
        "factors": ["NewsSentiment"],
        "start_date": "2021-01-01",
        "end_date": "2022-12-31",
        "owner": "tester",
        # The grid's own order, so tests can name a chunk's points by index; tests of the space-filling
        # order (the spec's default) turn it on.
        "space_filling": False,
    }
    data.update(overrides)
    return SweepConfig(**data)


def grid_params(strategy: str, *expressions: str) -> dict[str, str]:
    """`strategy`'s parameters from one grid expression each, given in the catalog's order."""
    return dict(zip(STRATEGIES[strategy].param_names, expressions, strict=True))


def spec_payload(**overrides: object) -> dict:
    """The fields of a valid mean-reversion sweep with its default grid, as a form or a JSON file gives
    them; `overrides` replace fields whole."""
    payload = {
        "name": "mr_test",
        "strategy": "MeanReversionStrategy",
        "params": STRATEGIES["MeanReversionStrategy"].default_params(),
        "universe": "AAPL,MSFT,GOOGL",
        "factors": "NewsSentiment,DebtToEquity",
        "start_date": "2020-01-01",
        "end_date": "2022-12-31",
    }
    payload.update(overrides)
    return payload
