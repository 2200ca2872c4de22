"""Strategies do what their parameters say; metrics and costs are computed as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airflow_backtest_framework.catalog import STRATEGIES
from airflow_backtest_framework.config import SweepConfig
from backtest_engine import STRATEGY_CLASSES, TRANSACTION_COST, build_strategy, load_market_data, run_point
from backtest_engine.data import MarketData
from backtest_engine.metrics import compute_metrics, evaluate
from backtest_engine.positions import Book, simulate
from backtest_engine.strategies import RANK_LOOKBACK_DAYS, Strategy, UnknownStrategyError, register

UNIVERSE = [f"S{number:02d}" for number in range(20)]


def market(factors: tuple[str, ...] = ()) -> MarketData:
    config = SweepConfig(
        name="strategy_test",
        strategy="MomentumStrategy",
        params=STRATEGIES["MomentumStrategy"].default_params(),
        universe=UNIVERSE,
        factors=list(factors),
        start_date="2021-01-01",
        end_date="2023-12-31",
    )
    return load_market_data(config)


def strategy_of(name: str, *values: float) -> Strategy:
    """The engine's strategy `name` with one value per parameter, given in the catalog's order."""
    return build_strategy(name, dict(zip(STRATEGIES[name].param_names, values, strict=True)))


def close_frame(data: MarketData) -> pd.DataFrame:
    return pd.DataFrame(data.close, columns=list(data.symbols))


def away_from(values: np.ndarray, *edges: float, margin: float = 1e-9) -> np.ndarray:
    """Cells not within `margin` of any edge (where rounding could flip a comparison)."""
    keep = np.isfinite(values)
    for edge in edges:
        keep &= np.abs(values - edge) > margin
    return keep


# --------------------------------------------------------------------------- registry


def test_every_catalog_strategy_has_an_engine_with_the_same_parameters() -> None:
    assert set(STRATEGY_CLASSES) == set(STRATEGIES)
    for name, cls in STRATEGY_CLASSES.items():
        assert cls.name == name
        assert cls.param_names == STRATEGIES[name].param_names


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    class Duplicate(Strategy):
        name = "MomentumStrategy"
        param_names = ()

        def signals(self, data, factors=()):
            raise NotImplementedError

    with pytest.raises(ValueError, match="twice"):
        register(Duplicate)
    with pytest.raises(UnknownStrategyError):
        build_strategy("NoSuchStrategy", {})
    with pytest.raises(ValueError, match="lookback_period"):
        build_strategy("MeanReversionStrategy", {"entry_threshold": 2.0})


# --------------------------------------------------------------------------- signals


def test_mean_reversion_signals_follow_the_rolling_z_score() -> None:
    data = market()
    window, threshold = 15, 1.5
    strategy = strategy_of("MeanReversionStrategy", window, threshold, 0.05, 2)
    signals = strategy.signals(data)
    close = close_frame(data)
    rolling = close.rolling(window)
    zscore = ((close - rolling.mean()) / rolling.std(ddof=0)).to_numpy().T  # symbols × days
    check = away_from(zscore, -threshold, threshold, 0.0)
    expected = np.where(zscore < -threshold, 1, np.where(zscore > threshold, -1, 0))
    np.testing.assert_array_equal(signals.entry[check], expected[check])
    np.testing.assert_array_equal(signals.exit_long[check], (zscore >= 0)[check])
    np.testing.assert_array_equal(signals.exit_short[check], (zscore <= 0)[check])
    assert not signals.entry[:, : window - 1].any()
    assert signals.entry[check].any() and (signals.entry[check] == -1).any()
    assert signals.position_weight == pytest.approx(1 / len(UNIVERSE))


def test_momentum_signals_follow_the_trailing_return() -> None:
    data = market()
    period, threshold = 20, 0.08
    signals = strategy_of("MomentumStrategy", period, threshold, 0.1, 3).signals(data)
    trailing = close_frame(data).pct_change(period).to_numpy().T
    check = away_from(trailing, -threshold, threshold, 0.0)
    expected = np.where(trailing > threshold, 1, np.where(trailing < -threshold, -1, 0))
    np.testing.assert_array_equal(signals.entry[check], expected[check])
    np.testing.assert_array_equal(signals.exit_long[check], (trailing <= 0)[check])
    assert not signals.entry[:, :period].any()


def test_long_short_holds_the_top_and_bottom_fifth_between_rebalances() -> None:
    data = market()
    period = 10
    # Take profit at 500 %, stop at 90 %: only the rebalances move positions.
    signals = strategy_of("LongShortEquityStrategy", period, 5.0, 0.9, 0).signals(data)
    slots = len(UNIVERSE) // 5
    assert signals.position_weight == pytest.approx(1 / (2 * slots))
    rebalances = np.flatnonzero(signals.exit_long.any(axis=0) | signals.entry.any(axis=0))
    assert rebalances[0] == RANK_LOOKBACK_DAYS and set(np.diff(rebalances)) == {period}

    trailing = close_frame(data).pct_change(RANK_LOOKBACK_DAYS).to_numpy()
    for day in rebalances[:5]:
        order = np.argsort(trailing[day])
        assert set(np.flatnonzero(signals.entry[:, day] == 1)) == set(order[-slots:])
        assert set(np.flatnonzero(signals.entry[:, day] == -1)) == set(order[:slots])

    # With exits out of reach, positions are exactly the latest ranking, held until the next one.
    held = simulate(data.log_close_by_symbol, signals).positions()
    for day in rebalances[:-1]:
        np.testing.assert_array_equal(held[:, day], signals.entry[:, day])
        np.testing.assert_array_equal(held[:, day + period - 1], signals.entry[:, day])
    assert (held == 1).sum(axis=0).max() == slots and (held == -1).sum(axis=0).max() == slots


def test_long_short_factors_change_the_ranking() -> None:
    params = {"rebalance_period": 5, "take_profit_pct": 0.2, "stop_loss_pct": 0.1, "cooldown_period": 5}
    strategy = build_strategy("LongShortEquityStrategy", params)
    plain = strategy.signals(market()).entry
    data = market(("PriceToEarnings", "NewsSentiment"))
    blended = strategy.signals(data, list(data.factors)).entry
    assert (plain != 0).sum() == (blended != 0).sum()
    assert (plain != blended).any()


# --------------------------------------------------------------------------- rules and parameters


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_each_parameter_changes_the_result(strategy: str) -> None:
    spec = STRATEGIES[strategy]
    config = SweepConfig(
        name="parameter_test",
        strategy=strategy,
        universe=UNIVERSE[:10],
        start_date="2021-01-01",
        end_date="2023-12-31",
        params={p.name: p.default.split(",")[0] for p in spec.params},
    )
    data = load_market_data(config)
    base = run_point(config, 0, data).metrics
    changed = {"cooldown_period": "40", "stop_loss_pct": "0.02"}
    for param in spec.params:
        values = {p.name: p.default.split(",")[0] for p in spec.params}
        values[param.name] = changed.get(param.name, param.default.split(",")[-1])
        other = config.model_copy(update={"params": values})
        other = SweepConfig.model_validate(other.model_dump())
        assert run_point(other, 0, data).metrics != base, param.name


def test_cooldown_keeps_a_stopped_symbol_out() -> None:
    data = market()
    rules = {"momentum_period": 10, "signal_threshold": 0.02, "stop_loss_pct": 0.02}
    for cooldown in (0, 15):
        signals = build_strategy("MomentumStrategy", {**rules, "cooldown_period": cooldown}).signals(data)
        book = simulate(data.log_close_by_symbol, signals)
        same_symbol = book.symbol[1:] == book.symbol[:-1]
        after_stop = same_symbol & book.risk_exit[:-1]
        gaps = book.entry[1:][after_stop] - book.exit[:-1][after_stop]
        assert gaps.size and gaps.min() >= max(cooldown, 1)
        if cooldown == 0:
            assert gaps.min() == 1


# --------------------------------------------------------------------------- metrics


def test_metrics_of_a_known_path() -> None:
    daily = np.array([0.0, 0.2, -0.25, 1.0 / 9.0])
    wealth = np.cumprod(1 + daily)  # 1, 1.2, 0.9, 1.0
    metrics = compute_metrics(daily, wealth, years=1.0)
    assert metrics["total_return"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["max_drawdown"] == pytest.approx(-0.25)
    assert metrics["annual_volatility"] == pytest.approx(np.std(daily, ddof=1) * np.sqrt(252))
    assert metrics["sharpe"] == pytest.approx(daily.mean() / np.std(daily, ddof=1) * np.sqrt(252))
    assert compute_metrics(np.array([0.0, 0.01]), np.array([1.0, 2.0]), years=0.5)["cagr"] == pytest.approx(
        3.0
    )


def test_flat_book_has_zero_ratios_not_nan() -> None:
    metrics = compute_metrics(np.zeros(50), np.ones(50), years=0.2)
    assert metrics == {
        "total_return": 0.0,
        "cagr": 0.0,
        "annual_volatility": 0.0,
        "sharpe": 0.0,
        "sortino": 0.0,
        "max_drawdown": 0.0,
    }


def test_equity_pays_returns_and_costs_of_one_trade() -> None:
    dates = np.arange("2024-01-01", "2025-01-01", dtype="datetime64[D]")[:5]
    close = np.array([[100.0], [110.0], [99.0], [99.0], [120.0]])
    data = MarketData(symbols=("ABC",), dates=dates, close=close)
    book = Book(
        n_symbols=1,
        n_days=5,
        symbol=np.array([0]),
        entry=np.array([0]),
        exit=np.array([2]),
        direction=np.array([1], dtype=np.int8),
        risk_exit=np.array([False]),
    )
    performance = evaluate(data, book, position_weight=0.5, initial_capital=1000.0)
    cost = TRANSACTION_COST * 0.5
    # After day 1 (+10 % on half the book) the position is 0.55 of the 1.05 equity: trading it back to
    # half costs too (rebalances count as traded notional), and the exit sells what the position is
    # worth then (0.5 * 0.9), not its weight at entry.
    rebalance = 0.5 * abs(0.10 - 0.05)
    sold = 0.5 * 99 / 110
    expected = (
        1000.0
        * (1 - cost)
        * (1 + 0.5 * 0.10 - TRANSACTION_COST * rebalance)
        * (1 - 0.05 - TRANSACTION_COST * sold)
    )
    assert performance.equity[-1] == pytest.approx(expected)
    assert performance.equity[2] == performance.equity[-1]  # flat afterwards
    assert performance.metrics["trades"] == 1 and performance.metrics["win_rate"] == 0.0
    assert performance.metrics["turnover"] == pytest.approx((0.5 + rebalance + sold) / data.years)
