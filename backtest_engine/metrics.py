"""Portfolio returns, costs and performance metrics of one backtest."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from airflow_backtest_framework import engine_contract as ec
from backtest_engine.data import TRADING_DAYS_PER_YEAR, MarketData
from backtest_engine.positions import Book

TRANSACTION_COST = 0.0005  # 5 bps of the traded notional, charged on every change of weight
METRIC_NAMES = ec.METRIC_NAMES


@dataclass(frozen=True, eq=False)
class Performance:
    """Metrics (finite floats; `trades` an int) and the daily equity curve in currency."""

    metrics: dict[str, float | int]
    equity: np.ndarray  # (T,), equity at each close, starting at the initial capital


def evaluate(data: MarketData, book: Book, position_weight: float, initial_capital: float) -> Performance:
    """Equity, returns and metrics of a book held at constant weight per open position.

    Weights are rebalanced to `position_weight` every day (the usual vectorised simplification);
    every entry and exit pays TRANSACTION_COST on the traded fraction of capital.
    """
    positions = book.positions()  # int8 (N, T)
    held = position_weight * np.einsum("ij,ij->j", positions[:, :-1], data.returns_by_symbol[:, 1:])
    # Each entry and each exit moves one position's weight (a flip is an exit plus an entry).
    still_open = book.exit >= data.n_days
    changes = np.bincount(book.entry, minlength=data.n_days)
    changes += np.bincount(book.exit[~still_open], minlength=data.n_days)
    traded = position_weight * changes
    daily = -TRANSACTION_COST * traded
    daily[1:] += held
    # A book cannot lose more than everything: floor the wealth relative at zero.
    growth = np.maximum(1.0 + daily, 0.0)
    equity = initial_capital * np.cumprod(growth)
    metrics = compute_metrics(daily, equity / initial_capital, data.years)
    metrics["trades"] = book.trade_count
    metrics["win_rate"] = _win_rate(data, book)
    metrics["turnover"] = _finite(traded.sum() / data.years)
    return Performance(metrics={name: metrics[name] for name in METRIC_NAMES}, equity=equity)


def compute_metrics(daily: np.ndarray, wealth: np.ndarray, years: float) -> dict[str, float | int]:
    """Return and risk figures of daily returns and the matching wealth path (1.0 = start).

    max_drawdown is a negative fraction (-0.23 means 23 % below the previous peak); ratios are
    annualised with TRADING_DAYS_PER_YEAR and a zero risk-free rate, and are 0 when undefined.
    """
    final = float(wealth[-1])
    total_return = final - 1.0
    cagr = final ** (1.0 / years) - 1.0 if final > 0 and years > 0 else -1.0
    mean = float(daily.mean())
    std = float(daily.std(ddof=1)) if daily.size > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(daily, 0.0) ** 2)))
    scale = math.sqrt(TRADING_DAYS_PER_YEAR)
    peaks = np.maximum.accumulate(wealth)
    drawdown = float(np.min(np.divide(wealth, peaks, out=np.zeros_like(wealth), where=peaks > 0))) - 1.0
    return {
        "total_return": _finite(total_return),
        "cagr": _finite(cagr),
        "annual_volatility": _finite(std * scale),
        "sharpe": _finite(mean / std * scale) if std > 0 else 0.0,
        "sortino": _finite(mean / downside * scale) if downside > 0 else 0.0,
        "max_drawdown": _finite(min(drawdown, 0.0)),
    }


def _win_rate(data: MarketData, book: Book) -> float:
    """Share of trades with a positive gross return (open trades marked at the last close)."""
    if not book.trade_count:
        return 0.0
    log_close = data.log_close_by_symbol
    last_day = np.minimum(book.exit, data.n_days - 1)
    gain = book.direction * (log_close[book.symbol, last_day] - log_close[book.symbol, book.entry])
    return _finite(float(np.mean(gain > 0)))


def _finite(value: float) -> float:
    """A plain float; NaN becomes 0 and infinities the largest float, so JSON stays valid."""
    value = float(value)
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return math.copysign(np.finfo(np.float64).max, value)
    return value
