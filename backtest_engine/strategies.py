"""Strategy engines, registered by catalog name; each turns market data and parameters into Signals.

Adding a strategy: one StrategySpec in airflow_backtest_framework/config.py (its parameters) and
one subclass of Strategy here decorated with @register, whose `name` equals the catalog name.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from backtest_engine.data import MarketData
from backtest_engine.positions import Signals

QUANTILES = 5  # long the top fifth of the ranking, short the bottom fifth
RANK_LOOKBACK_DAYS = 63  # trailing-return window of the long/short ranking (one quarter)
MIN_VARIANCE = 1e-14  # rolling variances below this are a flat price: no z-score
# Sign of each factor in the long/short score: +1 when a high value is attractive. Unlisted: +1.
FACTOR_PREFERENCE: dict[str, int] = {
    "NewsSentiment": 1,
    "DebtToEquity": -1,
    "PriceToEarnings": -1,
    "PriceToBook": -1,
    "ReturnOnEquity": 1,
    "EarningsYield": 1,
    "DividendYield": 1,
    "Volatility60D": -1,
    "Beta": -1,
    "MarketCap": -1,
}

STRATEGY_CLASSES: dict[str, type[Strategy]] = {}


class UnknownStrategyError(KeyError):
    """No engine class is registered under this strategy name."""


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available under its catalog name."""
    if cls.name in STRATEGY_CLASSES:
        raise ValueError(f"strategy {cls.name} is registered twice")
    STRATEGY_CLASSES[cls.name] = cls
    return cls


def build_strategy(name: str, params: Mapping[str, float]) -> Strategy:
    """The engine of strategy `name` configured with one grid point's parameters."""
    try:
        cls = STRATEGY_CLASSES[name]
    except KeyError:
        raise UnknownStrategyError(name) from None
    return cls(params)


class Strategy(ABC):
    """A strategy engine: `signals` is vectorised over symbols and days."""

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    # Parameters that shape entries and exits; the others (stops, cooldowns) are risk rules only.
    signal_params: ClassVar[tuple[str, ...]]
    cooldown_after_signal_exit: ClassVar[bool] = True  # False: only stop/take-profit exits cool down

    def __init__(self, params: Mapping[str, float]) -> None:
        missing = [name for name in self.param_names if name not in params]
        if missing:
            raise ValueError(f"{self.name} needs parameter(s) {', '.join(missing)}")
        self.params = {name: params[name] for name in self.param_names}

    @abstractmethod
    def signals(self, data: MarketData, factors: Sequence[str] = ()) -> Signals:
        """Entries, exits and sizing for every day and symbol."""

    def with_risk_rules(self, signals: Signals) -> Signals:
        """`signals` (computed with the same signal parameters) carrying this point's stops and cooldowns."""
        cooldown = int(self.params["cooldown_period"])
        take_profit = self.params.get("take_profit_pct")
        return dataclasses.replace(
            signals,
            stop_loss=float(self.params["stop_loss_pct"]),
            take_profit=None if take_profit is None else float(take_profit),
            signal_cooldown=cooldown if self.cooldown_after_signal_exit else 0,
            risk_cooldown=cooldown,
        )


def _tradable_only(entry: np.ndarray, data: MarketData) -> np.ndarray:
    if data.tradable_by_symbol is not None:
        entry[~data.tradable_by_symbol] = 0
    return entry


def _directions(long: np.ndarray, short: np.ndarray) -> np.ndarray:
    return long.view(np.int8) - short.view(np.int8)


def _prefix_sums(data: MarketData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised closes (N, T) and the running sums of them and their squares (N, T+1), shared by points."""

    def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        close = np.ascontiguousarray(data.close.T)
        scaled = close / close[:, :1]
        sums = np.zeros((data.n_symbols, data.n_days + 1))
        squares = np.zeros_like(sums)
        np.cumsum(scaled, axis=1, out=sums[:, 1:])
        np.cumsum(scaled * scaled, axis=1, out=squares[:, 1:])
        return scaled, sums, squares

    return data.derived("prefix_sums", build)


@register
class MeanReversionStrategy(Strategy):
    """Fade large deviations of the price from its rolling mean; exit when the z-score crosses 0."""

    name = "MeanReversionStrategy"
    param_names = ("lookback_period", "entry_threshold", "stop_loss_pct", "cooldown_period")
    signal_params = ("lookback_period", "entry_threshold")

    def signals(self, data: MarketData, factors: Sequence[str] = ()) -> Signals:
        window = int(self.params["lookback_period"])
        threshold = float(self.params["entry_threshold"])
        n_symbols, n_days = data.n_symbols, data.n_days
        entry = np.zeros((n_symbols, n_days), dtype=np.int8)
        # During the warm-up (and on flat prices) the z-score is 0: both sides exit, nothing enters.
        exit_long = np.ones((n_symbols, n_days), dtype=bool)
        exit_short = np.ones((n_symbols, n_days), dtype=bool)
        if window <= n_days:
            scaled, sums, squares = _prefix_sums(data)
            # Scaled by the window to avoid divisions: deviation * w and variance * w². In place,
            # because fresh multi-megabyte temporaries cost more in page faults than in arithmetic.
            total = np.subtract(sums[:, window:], sums[:, :-window])
            deviation = np.multiply(scaled[:, window - 1 :], window)
            deviation -= total
            variance = np.subtract(squares[:, window:], squares[:, :-window])
            variance *= window
            total *= total
            variance -= total
            valid = variance > MIN_VARIANCE * window * window
            # |z| > threshold  <=>  deviation² > threshold² · variance (no square root needed).
            variance *= threshold * threshold
            far = np.multiply(deviation, deviation, out=total) > variance
            far &= valid
            below = deviation < 0
            above = deviation > 0
            np.subtract((far & below).view(np.int8), (far & above).view(np.int8), out=entry[:, window - 1 :])
            invalid = ~valid
            np.logical_or(~below, invalid, out=exit_long[:, window - 1 :])
            np.logical_or(~above, invalid, out=exit_short[:, window - 1 :])
        cooldown = int(self.params["cooldown_period"])
        return Signals(
            entry=_tradable_only(entry, data),
            exit_long=exit_long,
            exit_short=exit_short,
            position_weight=1.0 / n_symbols,
            stop_loss=float(self.params["stop_loss_pct"]),
            take_profit=None,
            signal_cooldown=cooldown,
            risk_cooldown=cooldown,
        )


@register
class MomentumStrategy(Strategy):
    """Follow the trailing return: long above +threshold, short below -threshold, exit on a change of sign."""

    name = "MomentumStrategy"
    param_names = ("momentum_period", "signal_threshold", "stop_loss_pct", "cooldown_period")
    signal_params = ("momentum_period", "signal_threshold")

    def signals(self, data: MarketData, factors: Sequence[str] = ()) -> Signals:
        period = int(self.params["momentum_period"])
        threshold = float(self.params["signal_threshold"])
        log_close = data.log_close_by_symbol
        trailing = np.zeros((data.n_symbols, data.n_days))  # log return; 0 during the warm-up
        if period < data.n_days:
            np.subtract(log_close[:, period:], log_close[:, :-period], out=trailing[:, period:])
        upper = np.log1p(threshold)
        lower = np.log1p(-threshold) if threshold < 1.0 else -np.inf
        entry = _tradable_only(_directions(trailing > upper, trailing < lower), data)
        cooldown = int(self.params["cooldown_period"])
        return Signals(
            entry=entry,
            exit_long=trailing <= 0,
            exit_short=trailing >= 0,
            position_weight=1.0 / data.n_symbols,
            stop_loss=float(self.params["stop_loss_pct"]),
            take_profit=None,
            signal_cooldown=cooldown,
            risk_cooldown=cooldown,
        )


@register
class LongShortEquityStrategy(Strategy):
    """Every rebalance, long the top fifth and short the bottom fifth of a ranking, equal weight.

    The score is the cross-sectional z-score of the trailing RANK_LOOKBACK_DAYS return plus the
    signed z-scores of the sweep's factors (equal weights; FACTOR_PREFERENCE gives the signs).
    Positions still in their quintile at a rebalance are kept (with their entry price);
    take-profit and stop-loss close a position between rebalances, and `cooldown_period` then
    keeps the symbol out for that many days.
    """

    name = "LongShortEquityStrategy"
    param_names = ("rebalance_period", "take_profit_pct", "stop_loss_pct", "cooldown_period")
    signal_params = ("rebalance_period",)
    cooldown_after_signal_exit = False

    def signals(self, data: MarketData, factors: Sequence[str] = ()) -> Signals:
        n_days, n_symbols = data.n_days, data.n_symbols
        period = int(self.params["rebalance_period"])
        lookback = max(1, min(RANK_LOOKBACK_DAYS, n_days - 2))
        slots = max(1, n_symbols // QUANTILES) if n_symbols >= 2 else 0
        rebalance_days = np.arange(lookback, n_days, period)
        target = self._targets(data, factors, rebalance_days, lookback, slots)

        entry = np.zeros((n_symbols, n_days), dtype=np.int8)
        entry[:, rebalance_days] = target
        exit_long = np.zeros((n_symbols, n_days), dtype=bool)
        exit_long[:, rebalance_days] = target != 1
        exit_short = np.zeros((n_symbols, n_days), dtype=bool)
        exit_short[:, rebalance_days] = target != -1
        return Signals(
            entry=_tradable_only(entry, data),
            exit_long=exit_long,
            exit_short=exit_short,
            position_weight=1.0 / (2 * slots) if slots else 0.0,
            stop_loss=float(self.params["stop_loss_pct"]),
            take_profit=float(self.params["take_profit_pct"]),
            signal_cooldown=0,
            risk_cooldown=int(self.params["cooldown_period"]),
        )

    @staticmethod
    def _targets(
        data: MarketData, factors: Sequence[str], days: np.ndarray, lookback: int, slots: int
    ) -> np.ndarray:
        """+1 / -1 / 0 per symbol and rebalance day, shape (N, len(days))."""
        target = np.zeros((days.size, data.n_symbols), dtype=np.int8)
        if not slots or not days.size:
            return target.T
        log_close = data.log_close_by_date
        valid = None if data.tradable is None else data.tradable[days]

        def ranked(values: np.ndarray) -> np.ndarray:
            # Symbols not quoting that day take no part in the cross-section (their prices are fills).
            return _cross_sectional_z(values if valid is None else np.where(valid, values, np.nan))

        score = ranked(log_close[days] - log_close[days - lookback])
        for name in factors:
            score += FACTOR_PREFERENCE.get(name, 1) * ranked(data.factors[name][days])
        low = score if valid is None else np.where(valid, score, np.inf)
        high = -score if valid is None else np.where(valid, -score, np.inf)
        # Only the sets matter, not their order: a partition is enough (and deterministic).
        np.put_along_axis(target, np.argpartition(low, slots - 1, axis=1)[:, :slots], -1, axis=1)
        np.put_along_axis(target, np.argpartition(high, slots - 1, axis=1)[:, :slots], 1, axis=1)
        if valid is not None:
            target[~valid] = 0
        # A day without any dispersion of scores carries no ranking: hold nothing.
        target[score.max(axis=1) <= score.min(axis=1)] = 0
        return target.T


def _cross_sectional_z(values: np.ndarray) -> np.ndarray:
    """Z-score of each row across symbols; NaN and zero-dispersion rows become 0."""
    finite = np.isfinite(values)
    if finite.all():
        centred = values - values.mean(axis=1, keepdims=True)
        count = values.shape[1]
    else:
        count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
        filled = np.where(finite, values, 0.0)
        centred = np.where(finite, filled - filled.sum(axis=1, keepdims=True) / count, 0.0)
    std = np.sqrt((centred * centred).sum(axis=1, keepdims=True) / count)
    dispersed = std[:, 0] > 0
    centred[dispersed] /= std[dispersed]
    centred[~dispersed] = 0.0
    return centred
