"""The trade walk equals a plain day-by-day simulation, whatever the signals and however time is split."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest_engine.positions import Signals, simulate, simulate_many

Trade = tuple[int, int, int, int, bool]  # symbol, entry, exit (T if open), direction, risk exit


def reference(log_close: np.ndarray, signals: Signals) -> list[Trade]:
    """The rules, one day at a time: exits first at each close, then entries when flat and free."""
    n_symbols, n_days = log_close.shape
    stop, profit = signals.stop_loss, signals.take_profit
    trades: list[Trade] = []
    for symbol in range(n_symbols):
        held, resume, entry, entry_price = 0, 0, 0, 0.0
        for day in range(n_days):
            price = math.exp(log_close[symbol, day])
            if held:
                change = held * (price / entry_price - 1.0)
                risk = change <= -stop + 1e-12 or (profit is not None and change >= profit - 1e-12)
                signal = signals.exit_long[symbol, day] if held > 0 else signals.exit_short[symbol, day]
                if risk or signal:
                    trades.append((symbol, entry, day, held, bool(risk)))
                    cooldown = max(signals.risk_cooldown, 1) if risk else signals.signal_cooldown
                    held, resume = 0, day + cooldown
            wanted = int(signals.entry[symbol, day])
            if not held and wanted and day >= resume and day < n_days - 1:
                held, entry, entry_price = wanted, day, price
        if held:
            trades.append((symbol, entry, n_days, held, False))
    return trades


def as_tuples(book) -> list[Trade]:
    return list(
        zip(
            book.symbol.tolist(),
            book.entry.tolist(),
            book.exit.tolist(),
            book.direction.tolist(),
            book.risk_exit.tolist(),
            strict=True,
        )
    )


def positions_of(trades: list[Trade], n_symbols: int, n_days: int) -> np.ndarray:
    held = np.zeros((n_symbols, n_days), dtype=np.int8)
    for symbol, entry, exit_day, direction, _ in trades:
        held[symbol, entry:exit_day] = direction
    return held


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[np.ndarray, Signals]:
    n_symbols = draw(st.integers(1, 5))
    n_days = draw(st.integers(2, 90))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Prices on a coarse grid (multiples of 1 %) so stop levels are hit exactly, not just crossed.
    steps = rng.choice([-0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03], size=(n_symbols, n_days))
    log_close = np.log(100.0) + np.log1p(steps).cumsum(axis=1)
    entry_rate = draw(st.floats(0.0, 0.6))
    entry = (rng.random((n_symbols, n_days)) < entry_rate) * rng.choice([-1, 1], size=(n_symbols, n_days))
    signals = Signals(
        entry=entry.astype(np.int8),
        exit_long=rng.random((n_symbols, n_days)) < draw(st.floats(0.0, 0.5)),
        exit_short=rng.random((n_symbols, n_days)) < draw(st.floats(0.0, 0.5)),
        position_weight=1.0,
        stop_loss=draw(st.sampled_from([0.01, 0.02, 0.05, 0.3])),
        take_profit=draw(st.sampled_from([None, 0.01, 0.03, 0.1, 1.5])),
        signal_cooldown=draw(st.integers(0, 6)),
        risk_cooldown=draw(st.integers(0, 6)),
    )
    return log_close, signals


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.sampled_from([1, 2, 3, 8, 40]))
def test_walk_matches_day_by_day_simulation(scenario: tuple[np.ndarray, Signals], pieces: int) -> None:
    log_close, signals = scenario
    expected = reference(log_close, signals)
    book = simulate(log_close, signals, pieces=pieces)
    assert as_tuples(book) == expected
    n_symbols, n_days = log_close.shape
    np.testing.assert_array_equal(book.positions(), positions_of(expected, n_symbols, n_days))


def one_symbol(prices: list[float], entry: list[int], **rules: object) -> tuple[np.ndarray, Signals]:
    n_days = len(prices)
    defaults = {"stop_loss": 0.05, "take_profit": None, "signal_cooldown": 0, "risk_cooldown": 0}
    defaults.update(rules)
    return np.log(np.array([prices])), Signals(
        entry=np.array([entry], dtype=np.int8),
        exit_long=np.zeros((1, n_days), dtype=bool),
        exit_short=np.zeros((1, n_days), dtype=bool),
        position_weight=1.0,
        **defaults,
    )


def test_stop_loss_closes_a_long_and_cooldown_delays_the_next_entry() -> None:
    prices = [100, 99, 96, 94.9, 95, 95, 95, 95, 95]
    log_close, signals = one_symbol(prices, [1] * len(prices), risk_cooldown=3)
    trades = as_tuples(simulate(log_close, signals))
    # 94.9 is 5.1 % below the entry at 100: stopped on day 3, re-entered 3 days later.
    assert trades == [(0, 0, 3, 1, True), (0, 6, 9, 1, False)]


def test_take_profit_closes_a_short_when_the_price_falls() -> None:
    prices = [50, 49, 46, 44.9, 44, 45]
    log_close, signals = one_symbol(prices, [-1, 0, 0, 0, 0, 0], take_profit=0.1)
    assert as_tuples(simulate(log_close, signals)) == [(0, 0, 3, -1, True)]


def test_stop_loss_of_a_short_when_the_price_rises() -> None:
    prices = [50, 51, 52.6, 53, 50]
    log_close, signals = one_symbol(prices, [-1, 0, 0, 0, 0], stop_loss=0.05)
    assert as_tuples(simulate(log_close, signals)) == [(0, 0, 2, -1, True)]


def test_signal_exit_then_same_day_reversal_without_cooldown() -> None:
    prices = [10.0] * 6
    log_close, signals = one_symbol(prices, [1, 0, 0, -1, 0, 0])
    exits = np.zeros((1, 6), dtype=bool)
    exits[0, 3] = True
    signals = Signals(**{**signals.__dict__, "exit_long": exits})
    trades = as_tuples(simulate(log_close, signals))
    assert trades == [(0, 0, 3, 1, False), (0, 3, 6, -1, False)]
    assert simulate(log_close, signals).positions().tolist() == [[1, 1, 1, -1, -1, -1]]


def test_no_entry_on_the_last_close_and_no_signals_no_trades() -> None:
    log_close, signals = one_symbol([1.0, 1.0, 1.0], [0, 0, 1])
    book = simulate(log_close, signals)
    assert book.trade_count == 0
    assert not book.positions().any()


@pytest.mark.parametrize("pieces", [1, 8])
def test_large_random_case_matches_reference(pieces: int) -> None:
    rng = np.random.default_rng(7)
    log_close = np.log(100) + rng.normal(0, 0.02, (12, 600)).cumsum(axis=1)
    signals = Signals(
        entry=(rng.random((12, 600)) < 0.3) * rng.choice(np.array([-1, 1], dtype=np.int8), (12, 600)),
        exit_long=rng.random((12, 600)) < 0.1,
        exit_short=rng.random((12, 600)) < 0.1,
        position_weight=1.0,
        stop_loss=0.04,
        take_profit=0.06,
        signal_cooldown=2,
        risk_cooldown=5,
    )
    assert as_tuples(simulate(log_close, signals, pieces=pieces)) == reference(log_close, signals)


@settings(max_examples=60, deadline=None)
@given(
    scenarios(),
    st.sampled_from([1, 3, 8]),
    st.lists(
        st.tuples(
            st.sampled_from([0.01, 0.02, 0.05, 0.3]),
            st.sampled_from([None, 0.01, 0.03, 1.5]),
            st.integers(0, 6),
            st.integers(0, 6),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_points_walked_together_equal_points_walked_alone(
    scenario: tuple[np.ndarray, Signals], pieces: int, rules: list[tuple]
) -> None:
    log_close, signals = scenario
    batch = [
        dataclasses.replace(signals, stop_loss=stop, take_profit=profit, signal_cooldown=sc, risk_cooldown=rc)
        for stop, profit, sc, rc in rules
    ]
    together = simulate_many(log_close, batch, pieces=pieces)
    for book, alone in zip(together, batch, strict=True):
        assert as_tuples(book) == as_tuples(simulate(log_close, alone, pieces=pieces))
        assert as_tuples(book) == reference(log_close, alone)
