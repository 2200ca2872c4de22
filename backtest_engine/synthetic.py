"""The synthetic market: deterministic geometric random walks driven by one market factor ("not evidence")."""

from __future__ import annotations

import functools
from datetime import date

import numpy as np

from backtest_engine.data import (
    BARS_PER_YEAR,
    DAILY,
    SYNTHETIC_SOURCE,
    DataSourceError,
    MarketData,
    frozen,
    stable_seed,
)

# One-factor model of the synthetic market (annualised figures).
MARKET_SEED_KEY = "__MARKET__"
MARKET_VOLATILITY = 0.16
DRIFT_RANGE = (0.05, 0.10)
BETA_RANGE = (0.6, 1.4)
IDIOSYNCRATIC_VOL_RANGE = (0.12, 0.38)  # with the betas above: total volatility ~15-45 %/yr
START_PRICE_RANGE = (20.0, 300.0)
# Factor series: AR(1) around a per-symbol level, persistent over weeks to months.
FACTOR_PERSISTENCE = 0.98
FACTOR_LEVEL_SPREAD = 0.75  # spread of per-symbol mean levels, in units of the factor's scale
FACTOR_LEVELS: dict[str, tuple[float, float]] = {  # (typical level, scale); unknown factors: (0, 1)
    "NewsSentiment": (0.0, 0.3),
    "DebtToEquity": (1.0, 0.4),
    "PriceToEarnings": (18.0, 5.0),
    "PriceToBook": (3.0, 1.0),
    "ReturnOnEquity": (0.12, 0.05),
    "EarningsYield": (0.055, 0.015),
    "DividendYield": (0.02, 0.01),
    "Volatility60D": (0.28, 0.08),
    "Beta": (1.0, 0.25),
    "MarketCap": (50e9, 20e9),
}
SYNTHETIC_CACHE_SIZE = 4
# Bars: the overnight gap and the intraday excursions beyond open/close, in units of daily volatility.
OVERNIGHT_SHARE = 0.3
EXCURSION_SHARE = 0.5


@functools.lru_cache(maxsize=SYNTHETIC_CACHE_SIZE)
def synthetic_market(
    symbols: tuple[str, ...], start: date, end: date, factors: tuple[str, ...] = ()
) -> MarketData:
    """A reproducible market: geometric random walks on business days driven by one market factor.

    Each symbol draws its drift, volatility, beta and noise from a generator seeded by its name,
    so a symbol's path does not depend on the rest of the universe. Cached per process.
    """
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    dates = days[np.is_busday(days)]  # Monday to Friday, as pandas' bdate_range (pandas costs ~1 s to import)
    if dates.size < 2:
        raise DataSourceError(f"{start} to {end} holds fewer than 2 business days; widen the dates")
    n_days = dates.size
    dt = 1.0 / BARS_PER_YEAR[DAILY]
    market_rng = np.random.default_rng(stable_seed(MARKET_SEED_KEY))
    market_shock = market_rng.standard_normal(n_days - 1) * MARKET_VOLATILITY * np.sqrt(dt)

    log_close = np.empty((n_days, len(symbols)))
    daily_vol = np.empty(len(symbols))
    for column, symbol in enumerate(symbols):
        rng = np.random.default_rng(stable_seed("prices", symbol))
        drift = rng.uniform(*DRIFT_RANGE)
        beta = rng.uniform(*BETA_RANGE)
        idio = rng.uniform(*IDIOSYNCRATIC_VOL_RANGE)
        start_price = rng.uniform(*START_PRICE_RANGE)
        total_var = beta**2 * MARKET_VOLATILITY**2 + idio**2
        noise = rng.standard_normal(n_days - 1) * idio * np.sqrt(dt)
        steps = (drift - 0.5 * total_var) * dt + beta * market_shock + noise
        log_close[0, column] = np.log(start_price)
        np.cumsum(steps, out=log_close[1:, column])
        log_close[1:, column] += log_close[0, column]
        daily_vol[column] = np.sqrt(total_var * dt)

    factor_series = {name: frozen(_synthetic_factor(name, symbols, n_days)) for name in factors}
    open_, high, low = _synthetic_bars(symbols, log_close, daily_vol)
    return MarketData(
        open=open_,
        high=high,
        low=low,
        symbols=tuple(symbols),
        dates=frozen(dates),
        close=frozen(np.exp(log_close)),
        factors=factor_series,
        source=SYNTHETIC_SOURCE,
        synthetic=True,
    )


def _synthetic_bars(
    symbols: tuple[str, ...], log_close: np.ndarray, daily_vol: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Opens, highs and lows around the closes (their own random stream: the closes stay as they were).

    The open is the previous close moved by an overnight gap; high and low reach beyond the larger and
    smaller of open and close by a half-normal intraday excursion.
    """
    shocks = np.empty((3, *log_close.shape))
    for column, symbol in enumerate(symbols):
        shocks[:, :, column] = np.random.default_rng(stable_seed("bars", symbol)).standard_normal(
            (3, log_close.shape[0])
        )
    shocks *= daily_vol
    log_open = np.empty_like(log_close)
    log_open[0] = log_close[0]
    log_open[1:] = log_close[:-1]
    log_open += OVERNIGHT_SHARE * shocks[0]
    log_high = np.maximum(log_open, log_close) + EXCURSION_SHARE * np.abs(shocks[1])
    log_low = np.minimum(log_open, log_close) - EXCURSION_SHARE * np.abs(shocks[2])
    return frozen(np.exp(log_open)), frozen(np.exp(log_high)), frozen(np.exp(log_low))


def _synthetic_factor(name: str, symbols: tuple[str, ...], n_days: int) -> np.ndarray:
    """A slow AR(1) series per symbol around a symbol-specific level."""
    typical, scale = FACTOR_LEVELS.get(name, (0.0, 1.0))
    shocks = np.empty((n_days, len(symbols)))
    levels = np.empty(len(symbols))
    for column, symbol in enumerate(symbols):
        rng = np.random.default_rng(stable_seed("factor", name, symbol))
        levels[column] = typical + FACTOR_LEVEL_SPREAD * scale * rng.standard_normal()
        shocks[:, column] = rng.standard_normal(n_days)
    innovation = np.sqrt(1.0 - FACTOR_PERSISTENCE**2)
    state = shocks[0].copy()  # stationary start
    series = np.empty_like(shocks)
    series[0] = state
    for day in range(1, n_days):
        state *= FACTOR_PERSISTENCE
        state += innovation * shocks[day]
        series[day] = state
    return levels + scale * series
