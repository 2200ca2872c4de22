"""Portfolio returns, costs and performance metrics of one backtest."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.execution_spec import FILL_SAME_CLOSE
from airflow_backtest_framework.validation_spec import Segment
from backtest_engine.data import DAYS_PER_YEAR, TRADING_DAYS_PER_YEAR, MarketData
from backtest_engine.execution import STOPS_CLOSE, Execution, Fills
from backtest_engine.positions import Book

TRANSACTION_COST = 0.0005  # the spec's default commission: 5 bps of the traded notional per side
SAME_CLOSE_DEFAULT = Execution(FILL_SAME_CLOSE, FILL_SAME_CLOSE, STOPS_CLOSE, TRANSACTION_COST, 0.0, 0.0)
METRIC_NAMES = ec.METRIC_NAMES


@dataclass(frozen=True, eq=False)
class DailyReturns:
    """Per bar (T,): returns before and after costs, gross exposure at the close, traded notional."""

    gross: np.ndarray
    net: np.ndarray
    exposure: np.ndarray
    traded: np.ndarray
    benchmark: np.ndarray


@dataclass(frozen=True, eq=False)
class Performance:
    """Metrics (finite floats; `trades` an int), the daily equity curve in currency and the daily returns."""

    metrics: dict[str, float | int]
    equity: np.ndarray  # (T,), equity at each close, starting at the initial capital
    returns: DailyReturns


def holding_runs(book: Book, fills: Fills) -> Book:
    """The book's full bars held (close j to close j+1), as runs [entry_bar, end) for Book.positions."""
    end = np.where(fills.exit_at_close, fills.exit_bar, fills.exit_bar - 1)
    end = np.maximum(end, fills.entry_bar)
    return Book(
        book.n_symbols, book.n_days, book.symbol, fills.entry_bar, end, book.direction, book.risk_exit
    )


def daily_returns(
    data: MarketData, book: Book, fills: Fills, weight: float, execution: Execution, benchmark: np.ndarray
) -> DailyReturns:
    """Gross and net returns of a book holding `weight` of equity per position (rebalanced each bar).

    Costs (execution.cost_per_side) are charged on every traded notional at its value when traded:
    entries (an open fill buys `weight` of the equity left after paying for it), exits, and the
    trade that brings each position kept over a close back to its weight; shorts pay borrow on
    their weight for every bar they are held over.
    """
    n_days, cost = data.n_days, execution.cost_per_side
    held = holding_runs(book, fills).positions()  # int8 (N, T): held from close j to j+1
    after = Book(
        book.n_symbols, n_days, book.symbol, fills.entry_bar, fills.exit_bar, book.direction, book.risk_exit
    ).positions()  # held after close j: known at that close
    returns = data.returns_by_symbol
    gross = np.zeros(n_days)
    gross[1:] = weight * np.einsum("ij,ij->j", held[:, :-1], returns[:, 1:])
    traded = np.zeros(n_days)
    entry_bars, entry_values = _partial_bars(gross, traded, data, book, fills, weight, cost)
    before_rebalance = gross - cost * traded
    # A position kept over close j drifted to weight * (1 + r); the book to 1 + its return.
    kept = (held[:, :-1] != 0) & (after[:, 1:] == held[:, :-1])
    drift = np.abs(returns[:, 1:] - before_rebalance[None, 1:])
    rebalance = np.zeros(n_days)
    rebalance[1:] = weight * np.einsum("ij,ij->j", kept, drift)
    target = weight * (1.0 + before_rebalance[entry_bars])
    np.add.at(rebalance, entry_bars, np.abs(entry_values - target))
    traded += rebalance
    net = before_rebalance - cost * rebalance
    if execution.borrow_per_year:
        shorts = np.count_nonzero(after[:, :-1] < 0, axis=0)  # short after the previous close
        net[1:] -= weight * shorts * execution.borrow_per_year / data.bars_per_year
    exposure = weight * np.count_nonzero(after, axis=0).astype(np.float64)
    return DailyReturns(gross=gross, net=net, exposure=exposure, traded=traded, benchmark=benchmark)


def _partial_bars(
    gross: np.ndarray,
    traded: np.ndarray,
    data: MarketData,
    book: Book,
    fills: Fills,
    weight: float,
    cost: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Add entries, exits and the bars they fill inside to `gross` and `traded` (fractions of the
    previous close's equity); returns the bars and values (same units) of open-fill positions kept
    over their entry bar's close, which are then traded back to their weight."""
    n_days, log_close = data.n_days, data.log_close_by_symbol
    side, symbol = book.direction.astype(np.float64), book.symbol
    entry_bar = np.minimum(fills.entry_bar, n_days - 1)
    at_open = fills.entry_at_open
    size = np.where(at_open, weight / (1.0 + weight * cost), weight)  # what the entry buys
    np.add.at(traded, entry_bar, size)
    same_bar = fills.exit_bar == fills.entry_bar
    end = np.where(same_bar, fills.exit_price, log_close[symbol, entry_bar])
    np.add.at(gross, entry_bar[at_open], (size * side * np.expm1(end - fills.entry_price))[at_open])
    closed = fills.exit_bar < n_days
    exit_bar = np.minimum(fills.exit_bar, n_days - 1)
    start = np.where(same_bar, fills.entry_price, log_close[symbol, np.maximum(exit_bar - 1, 0)])
    value = np.where(same_bar, size, weight) * np.exp(fills.exit_price - start)
    np.add.at(traded, exit_bar[closed], value[closed])
    partial = closed & ~fills.exit_at_close & ~same_bar
    np.add.at(gross, exit_bar[partial], (weight * side * (value / weight - 1.0))[partial])
    kept = at_open & (fills.exit_bar > fills.entry_bar)
    entry_values = size[kept] * np.exp(log_close[symbol[kept], entry_bar[kept]] - fills.entry_price[kept])
    return entry_bar[kept], entry_values


def benchmark_returns(data: MarketData, benchmark: str) -> np.ndarray:
    """Per bar: the benchmark symbol's return, or the equal-weighted universe's (symbols quoting on both
    closes)."""

    def build() -> np.ndarray:
        returns = data.returns_by_symbol
        if benchmark in data.symbols:
            return returns[data.symbols.index(benchmark)].copy()
        quoted = np.ones_like(returns, dtype=bool)
        if data.tradable_by_symbol is not None:
            quoted[:, 1:] = data.tradable_by_symbol[:, 1:] & data.tradable_by_symbol[:, :-1]
        count = quoted.sum(axis=0)
        total = np.where(quoted, returns, 0.0).sum(axis=0)
        return np.divide(total, count, out=np.zeros(data.n_days), where=count > 0)

    return data.derived(f"benchmark:{benchmark}", build)


def evaluate(
    data: MarketData,
    book: Book,
    position_weight: float,
    initial_capital: float,
    execution: Execution = SAME_CLOSE_DEFAULT,
    trade_fills: Fills | None = None,
    benchmark: str = "universe",
) -> Performance:
    """Equity, daily returns and metrics of a book held at constant weight per open position."""
    if trade_fills is None:  # same-close fills at the decision closes
        close = data.log_close_by_symbol
        last = np.minimum(book.exit, data.n_days - 1)
        trade_fills = Fills(
            book.entry, close[book.symbol, book.entry], np.zeros(book.trade_count, dtype=bool),
            book.exit, close[book.symbol, last], np.ones(book.trade_count, dtype=bool),
        )  # fmt: skip
    daily = daily_returns(
        data, book, trade_fills, position_weight, execution, benchmark_returns(data, benchmark)
    )
    # A book cannot lose more than everything: floor the wealth relative at zero.
    wealth = np.cumprod(np.maximum(1.0 + daily.net, 0.0))
    metrics = compute_metrics(daily.net, wealth, data.years, data.bars_per_year, execution.risk_free_rate)
    metrics.update(relative_metrics(daily.net, daily.benchmark, data.bars_per_year, execution.risk_free_rate))
    metrics["calmar"] = calmar(metrics["cagr"], metrics["max_drawdown"])
    metrics["max_drawdown_days"] = drawdown_days(wealth, data.dates)
    metrics["exposure"] = _finite(float(daily.exposure.mean()))
    metrics["trades"] = book.trade_count
    metrics["win_rate"] = _win_rate(book, trade_fills)
    metrics["turnover"] = _finite(daily.traded.sum() / data.years)
    return Performance(
        metrics={name: metrics[name] for name in METRIC_NAMES},
        equity=initial_capital * wealth,
        returns=daily,
    )


def compute_metrics(
    daily: np.ndarray,
    wealth: np.ndarray,
    years: float,
    bars_per_year: int = TRADING_DAYS_PER_YEAR,
    risk_free_rate: float = 0.0,
) -> dict[str, float | int]:
    """Return and risk figures of per-bar returns and the matching wealth path (1.0 = start).

    max_drawdown is a negative fraction (-0.23 means 23 % below the previous peak); ratios are
    annualised with `bars_per_year`, Sharpe and Sortino on returns in excess of the risk-free rate,
    and are 0 when undefined.
    """
    final = float(wealth[-1])
    total_return = final - 1.0
    cagr = final ** (1.0 / years) - 1.0 if final > 0 and years > 0 else -1.0
    excess = daily - risk_free_rate / bars_per_year
    mean = float(excess.mean())
    std = float(daily.std(ddof=1)) if daily.size > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    scale = math.sqrt(bars_per_year)
    peaks = np.maximum.accumulate(wealth)
    drawdown = float(np.min(np.divide(wealth, peaks, out=np.zeros_like(wealth), where=peaks > 0))) - 1.0
    max_drawdown = _finite(min(drawdown, 0.0))
    return {
        "total_return": _finite(total_return),
        "cagr": _finite(cagr),
        "annual_volatility": _finite(std * scale),
        "sharpe": _finite(mean / std * scale) if std > 0 else 0.0,
        "sortino": _finite(mean / downside * scale) if downside > 0 else 0.0,
        "max_drawdown": max_drawdown,
    }


def segment_metrics(
    net: np.ndarray, dates: np.ndarray, segments: list[Segment], bars_per_year: int, risk_free_rate: float
) -> dict[str, dict[str, float | str]]:
    """Per validation segment (validation_spec.segments): its first and last date and the return and
    risk figures of `compute_metrics` on the segment's own daily returns, wealth starting at 1."""
    found: dict[str, dict[str, float | str]] = {}
    for segment in segments:
        part = net[segment.start : segment.end]
        first, last = dates[segment.start], dates[segment.end - 1]
        days = int((last - first).astype("timedelta64[D]").astype(np.int64))
        wealth = np.cumprod(np.maximum(1.0 + part, 0.0))
        figures = compute_metrics(part, wealth, max(days, 1) / DAYS_PER_YEAR, bars_per_year, risk_free_rate)
        found[segment.name] = {"start": str(first)[:10], "end": str(last)[:10], **figures}
    return found


def calmar(cagr: float, max_drawdown: float) -> float:
    """CAGR over the depth of the worst drawdown; 0 without a drawdown."""
    return _finite(cagr / -max_drawdown) if max_drawdown < 0 else 0.0


def relative_metrics(
    daily: np.ndarray, benchmark: np.ndarray, bars_per_year: int, risk_free_rate: float = 0.0
) -> dict[str, float]:
    """Beta, annualised alpha (CAPM, on excess returns) and information ratio against the benchmark."""
    per_bar = risk_free_rate / bars_per_year
    strategy, market = daily[1:] - per_bar, benchmark[1:] - per_bar
    variance = float(market.var()) if market.size > 1 else 0.0
    beta = (
        float(np.mean((strategy - strategy.mean()) * (market - market.mean()))) / variance
        if variance
        else 0.0
    )
    alpha = (float(strategy.mean()) - beta * float(market.mean())) * bars_per_year
    active = daily[1:] - benchmark[1:]
    spread = float(active.std(ddof=1)) if active.size > 1 else 0.0
    ratio = float(active.mean()) / spread * math.sqrt(bars_per_year) if spread > 0 else 0.0
    return {"alpha": _finite(alpha), "beta": _finite(beta), "information_ratio": _finite(ratio)}


def drawdown_days(wealth: np.ndarray, dates: np.ndarray) -> int:
    """Longest time below a previous peak, in calendar days: from the peak to the recovery (or the end)."""
    at_peak = wealth >= np.maximum.accumulate(wealth)
    if at_peak.all():
        return 0
    last_peak = np.maximum.accumulate(np.where(at_peak, np.arange(wealth.size), 0))
    # Bar j is under water since the peak before it; a recovery bar ends the spell it closes.
    since = np.empty_like(last_peak)
    since[0], since[1:] = 0, last_peak[:-1]
    counted = ~at_peak
    counted[1:] |= at_peak[1:] & ~at_peak[:-1]
    spans = (dates - dates[since]).astype("timedelta64[D]").astype(np.int64)
    return int(spans[counted].max())


def _win_rate(book: Book, trade_fills: Fills) -> float:
    """Share of trades with a positive gross return (open trades marked at the last close)."""
    if not book.trade_count:
        return 0.0
    gain = book.direction * (trade_fills.exit_price - trade_fills.entry_price)
    return _finite(float(np.mean(gain > 0)))


def _finite(value: float) -> float:
    """A plain float; NaN becomes 0 and infinities the largest float, so JSON stays valid."""
    value = float(value)
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return math.copysign(np.finfo(np.float64).max, value)
    return value
