"""Execution: when and at what price a trade's entry and exit fill (next open, next close, same close)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.execution_spec import FILL_NEXT_CLOSE, FILL_NEXT_OPEN, FILL_SAME_CLOSE
from backtest_engine.data import MarketData
from backtest_engine.positions import Book, FillPrices, Signals

BPS = 1e-4
STOPS_INTRADAY = "intraday"  # triggered on the bar's high/low; a gap through the level fills at the open
STOPS_CLOSE = "close"  # checked and filled at closes (the data has no OHLC, or same-close fills)


@dataclass(frozen=True)
class Execution:
    """The spec's fills and costs as the engine applies them to one data set."""

    fill: str  # the fill used
    requested_fill: str  # the spec's fill (next_open becomes next_close on data without opens)
    stops: str  # STOPS_INTRADAY or STOPS_CLOSE
    cost_per_side: float  # commission + slippage, fraction of traded notional
    borrow_per_year: float  # fraction of short notional a year
    risk_free_rate: float  # annual

    @classmethod
    def of(cls, config: SweepConfig, data: MarketData) -> Execution:
        fill = config.fill
        if fill == FILL_NEXT_OPEN and data.open is None:
            fill = FILL_NEXT_CLOSE
        intraday = data.has_ohlc and fill != FILL_SAME_CLOSE
        return cls(
            fill=fill,
            requested_fill=config.fill,
            stops=STOPS_INTRADAY if intraday else STOPS_CLOSE,
            cost_per_side=(config.commission_bps + config.slippage_bps) * BPS,
            borrow_per_year=config.borrow_bps * BPS,
            risk_free_rate=config.risk_free_rate,
        )

    @property
    def lag(self) -> int:
        """Bars between an order's decision (a close) and its fill."""
        return 0 if self.fill == FILL_SAME_CLOSE else 1

    @property
    def optimistic(self) -> bool:
        return self.fill == FILL_SAME_CLOSE

    def record(self) -> dict[str, object]:
        """What the point record says about execution, so pages can label optimistic results."""
        record: dict[str, object] = {"fill": self.fill, "optimistic": self.optimistic, "stops": self.stops}
        if self.fill != self.requested_fill:
            record["requested_fill"] = self.requested_fill
        return record

    def fill_prices(self, data: MarketData) -> FillPrices:
        """The walker's view of these fills on `data` (cached per data set and fill)."""
        return data.derived(f"fill_prices:{self.fill}:{self.stops}", lambda: self._build_prices(data))

    def _build_prices(self, data: MarketData) -> FillPrices:
        log_close = data.log_close_by_symbol
        n_days = data.n_days
        entry = log_close
        if self.lag:
            source = data.log_by_symbol("open") if self.fill == FILL_NEXT_OPEN else log_close
            entry = np.empty_like(log_close)
            entry[:, :-1] = source[:, 1:]
            entry[:, -1] = log_close[:, -1]  # never used: no entry is decided on the last bar
        low = high = log_close
        if self.stops == STOPS_INTRADAY:
            low, high = data.log_by_symbol("low"), data.log_by_symbol("high")
        # A decision may fill only where the symbol still quotes.
        allowed = None
        if self.lag and data.tradable_by_symbol is not None:
            allowed = np.zeros((data.n_symbols, n_days), dtype=bool)
            allowed[:, :-1] = data.tradable_by_symbol[:, 1:]
        first_watch = 2 if self.fill == FILL_NEXT_CLOSE else 1
        exit_lag = 1 if self.fill == FILL_NEXT_CLOSE else 0
        return FillPrices(entry, low, high, first_watch, exit_lag, allowed)


@dataclass(frozen=True, eq=False)
class Fills:
    """Per trade (book order): the bars and log prices of its entry and exit fills."""

    entry_bar: np.ndarray  # int64 (K,)
    entry_price: np.ndarray  # log price
    entry_at_open: np.ndarray  # bool: the entry bar earns close / entry price
    exit_bar: np.ndarray  # int64 (K,); n_days when still open at the end
    exit_price: np.ndarray  # log price (the last close when still open)
    exit_at_close: np.ndarray  # bool: the exit bar earns exit / previous close like a whole bar


def fills(book: Book, data: MarketData, signals: Signals, execution: Execution) -> Fills:
    """Where each trade of `book` filled: next open/close or same close, stops at their level or the gap."""
    n_days = data.n_days
    log_close = data.log_close_by_symbol.ravel()  # prices are read by flat cell: symbol * T + bar
    symbol, lag = book.symbol, execution.lag
    row = symbol * n_days
    entry_bar = book.entry + lag
    entry_price = execution.fill_prices(data).entry.ravel().take(row + book.entry)
    entry_at_open = np.full(symbol.size, execution.fill == FILL_NEXT_OPEN)

    exit_bar = np.where(book.risk_exit, book.exit, book.exit + lag)
    exit_bar = np.minimum(exit_bar, n_days)  # a signal exit decided on the last bar never fills
    exit_bar = np.where(book.exit >= n_days, n_days, exit_bar)
    at_cell = row + np.minimum(exit_bar, n_days - 1)
    exit_price = log_close.take(at_cell)
    exit_at_close = np.ones(symbol.size, dtype=bool)
    if execution.fill == FILL_NEXT_OPEN:
        by_signal = ~book.risk_exit & (exit_bar < n_days)
        exit_price = np.where(by_signal, data.log_by_symbol("open").ravel().take(at_cell), exit_price)
        exit_at_close &= ~by_signal
    if execution.stops == STOPS_INTRADAY and book.risk_exit.any():
        risk = np.flatnonzero(book.risk_exit)
        exit_price[risk] = _risk_level(data, signals, book.direction[risk], entry_price[risk], at_cell[risk])
        exit_at_close[risk] = False
    # A symbol that stops quoting closes its position at its last quote.
    last = data.last_quote[symbol]
    delisted = (exit_bar > last) & (last < n_days - 1)
    if delisted.any():
        exit_bar = np.where(delisted, last, exit_bar)
        exit_price = np.where(delisted, log_close.take(row + np.maximum(last, 0)), exit_price)
        exit_at_close |= delisted
    return Fills(entry_bar, entry_price, entry_at_open, exit_bar, exit_price, exit_at_close)


def _risk_level(
    data: MarketData, signals: Signals, direction: np.ndarray, entry_price: np.ndarray, cell: np.ndarray
) -> np.ndarray:
    """Log fill price of stop-loss / take-profit exits on the flat `cell` (symbol * T + bar): the level,
    or the open past it."""
    side = direction.astype(np.float64)
    log_open = data.log_by_symbol("open").ravel().take(cell)
    low = data.log_by_symbol("low").ravel().take(cell)
    high = data.log_by_symbol("high").ravel().take(cell)
    stop = entry_price + np.where(side > 0, np.log1p(-signals.stop_loss), np.log1p(signals.stop_loss))
    adverse = np.where(side > 0, low, high)
    stopped = side * (adverse - stop) <= 0  # the stop counts first when both levels lie in the bar
    # A gap through the level fills at the open, the worse price for a stop, the better for a target.
    fill = np.where(side > 0, np.minimum(log_open, stop), np.maximum(log_open, stop))
    if signals.take_profit is not None:
        target = signals.take_profit
        up, down = np.log1p(target), np.log1p(-target) if target < 1.0 else -np.inf
        profit = entry_price + np.where(side > 0, up, down)
        gain = np.where(side > 0, np.maximum(log_open, profit), np.minimum(log_open, profit))
        fill = np.where(stopped, fill, gain)
    return fill
