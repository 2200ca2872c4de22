"""The engine's shared paths equal its per-point path: points walked together (whatever their signals)
trade as they would alone, and a chunk that computes each signal once gives every point the results
of a point run on its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import SweepConfig
from backtest_engine import engine, load_market_data, run_chunk, run_point
from backtest_engine.positions import FillPrices, Signals, simulate, simulate_many
from tests.unit.test_engine_positions import as_tuples, reference, scenarios


def next_bar_prices(log_close: np.ndarray, fill: str, seed: int) -> FillPrices:
    """Fill prices like the engine's: the next open with intraday lows and highs, or the next close."""
    rng = np.random.default_rng(seed)
    after = np.empty_like(log_close)
    after[:, :-1], after[:, -1] = log_close[:, 1:], log_close[:, -1]
    if fill == "next_close":
        return FillPrices(after, log_close, log_close, first_watch=2, exit_lag=1)
    spread = np.abs(rng.normal(0.0, 0.02, (2, *log_close.shape)))
    open_ = log_close + rng.normal(0.0, 0.01, log_close.shape)
    low = np.minimum(log_close, open_) - spread[0]
    high = np.maximum(log_close, open_) + spread[1]
    next_open = np.empty_like(log_close)
    next_open[:, :-1], next_open[:, -1] = open_[:, 1:], log_close[:, -1]
    return FillPrices(next_open, low, high)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(scenarios(), min_size=2, max_size=3),
    st.sampled_from([1, 3, 8]),
    st.sampled_from(["same_close", "next_open", "next_close"]),
    st.lists(st.tuples(st.integers(0, 2), st.sampled_from([0.01, 0.05, 0.3]), st.integers(0, 4)), max_size=4),
)
def test_points_with_different_signals_walked_together_equal_each_walked_alone(
    drawn: list[tuple[np.ndarray, Signals]], pieces: int, fill: str, variants: list[tuple]
) -> None:
    log_close, first = drawn[0]
    n_symbols, n_days = log_close.shape
    # Other signals on the same prices (drawn for other shapes: cropped or tiled to fit).
    batch = [first]
    for _, other in drawn[1:]:
        rows = np.arange(n_symbols) % other.entry.shape[0]
        days = np.arange(n_days) % other.entry.shape[1]
        fields = ("entry", "exit_long", "exit_short")
        batch.append(dataclasses.replace(other, **{f: getattr(other, f)[np.ix_(rows, days)] for f in fields}))
    # Points sharing a signal's arrays, with other stops and cooldowns.
    for which, stop, cooldown in variants:
        shared = batch[which % len(batch)]
        batch.append(dataclasses.replace(shared, stop_loss=stop, risk_cooldown=cooldown))
    prices = None if fill == "same_close" else next_bar_prices(log_close, fill, seed=n_days)
    together = simulate_many(log_close, batch, pieces=pieces, prices=prices)
    for book, signals in zip(together, batch, strict=True):
        alone = simulate(log_close, signals, pieces=pieces, prices=prices)
        assert as_tuples(book) == as_tuples(alone)
        if prices is None:
            assert as_tuples(book) == reference(log_close, signals)


def sweep(strategy: str, fill: str) -> SweepConfig:
    return SweepConfig(
        name="sharing_test",
        strategy=strategy,
        params=STRATEGIES[strategy].default_params(),
        universe=[f"SYM{number:02d}" for number in range(12)],
        factors=["PriceToEarnings"],
        start_date="2020-01-01",
        end_date="2021-12-31",
        fill=fill,
        commission_bps=5.0,
        slippage_bps=2.0,
        borrow_bps=50.0,
    )


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("fill", ["next_open", "same_close"])
def test_a_chunk_sharing_signals_equals_every_point_run_alone(
    strategy: str, fill: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sweep(strategy, fill)
    data = load_market_data(config)
    # Small walks, so that a chunk holds several, split inside and across signal groups.
    monkeypatch.setattr(engine, "BATCH_ROWS", 7 * data.n_symbols)
    monkeypatch.setattr(engine, "BATCH_SIGNAL_CELLS", 3 * data.n_symbols * data.n_days)
    start, count = 5, 40
    shared = []
    outcome = run_chunk(config, start, count, data, shared.append)
    assert outcome.written == list(range(start, start + count)) and not outcome.failed
    assert sum(result.metrics["trades"] for result in shared) > 0
    for result in shared:
        alone = run_point(config, result.index, data)  # its own signals, walked by itself
        assert result.params == alone.params
        assert result.metrics == alone.metrics
        for name, column in alone.returns_columns().items():
            np.testing.assert_array_equal(result.returns_columns()[name], column, err_msg=name)
