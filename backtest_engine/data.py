"""Market data for the engine: a deterministic synthetic source and a folder of CSV/Parquet files."""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from airflow_backtest_framework.config import SweepConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")

SYNTHETIC_SOURCE = "synthetic"
TRADING_DAYS_PER_YEAR = 252
DATE_COLUMN = "date"
CLOSE_COLUMN = "close"
FILE_SUFFIXES = (".parquet", ".csv")

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


class DataSourceError(ValueError):
    """Market data that cannot be loaded; the message says what to fix."""


@dataclass(frozen=True, eq=False)
class MarketData:
    """Aligned daily closes (dates × symbols) and factor series of one universe.

    `tradable` is False on days before a symbol's first real quote (its price is back-filled
    there so that arithmetic stays finite; the strategies never enter on such days).
    """

    symbols: tuple[str, ...]
    dates: np.ndarray  # datetime64[D], shape (T,)
    close: np.ndarray  # float64, shape (T, N), positive and finite
    factors: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T, N) float64
    tradable: np.ndarray | None = None  # bool (T, N); None means every day
    source: str = SYNTHETIC_SOURCE
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """Memoise an array derived from this data (it never changes), e.g. rolling-window sums."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    @property
    def n_days(self) -> int:
        return int(self.close.shape[0])

    @property
    def n_symbols(self) -> int:
        return int(self.close.shape[1])

    @cached_property
    def log_close_by_date(self) -> np.ndarray:
        """Natural log of the closes, dates × symbols (for cross-sectional work), computed once."""
        return _frozen(np.log(self.close))

    @cached_property
    def log_close_by_symbol(self) -> np.ndarray:
        """Natural log of the closes, symbols × dates (the engine's layout), computed once."""
        return _frozen(np.ascontiguousarray(self.log_close_by_date.T))

    @cached_property
    def returns_by_symbol(self) -> np.ndarray:
        """Simple close-to-close returns, symbols × dates; day 0 is zero."""
        close = np.ascontiguousarray(self.close.T)
        out = np.zeros_like(close)
        np.divide(close[:, 1:], close[:, :-1], out=out[:, 1:])
        out[:, 1:] -= 1.0
        return _frozen(out)

    @cached_property
    def tradable_by_symbol(self) -> np.ndarray | None:
        """`tradable`, symbols × dates."""
        return None if self.tradable is None else _frozen(np.ascontiguousarray(self.tradable.T))

    @cached_property
    def years(self) -> float:
        """Calendar length of the sample in years (at least one trading day)."""
        days = int((self.dates[-1] - self.dates[0]).astype("timedelta64[D]").astype(np.int64))
        return max(days, 1) / 365.25


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def stable_seed(*parts: str) -> int:
    """A 64-bit seed from text, identical in every process (unlike the salted built-in hash())."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def load_market_data(config: SweepConfig, source: str = SYNTHETIC_SOURCE) -> MarketData:
    """Market data for the spec's universe, dates and factors.

    `source` is `synthetic` (deterministic simulated market) or the path of a folder holding one
    `<SYMBOL>.parquet` or `<SYMBOL>.csv` per symbol (columns: date, close, one per factor).
    Raises DataSourceError when the folder or a file cannot be used.
    """
    started = time.perf_counter()
    source = (source or SYNTHETIC_SOURCE).strip()
    if source == SYNTHETIC_SOURCE:
        data = synthetic_market(
            tuple(config.universe), config.start_date, config.end_date, tuple(config.factors)
        )
    else:
        data = load_folder(Path(source), config)
    logger.debug(
        "market data %s: %d days x %d symbols in %.3fs",
        data.source,
        data.n_days,
        data.n_symbols,
        time.perf_counter() - started,
    )
    return data


# --------------------------------------------------------------------------- synthetic


@functools.lru_cache(maxsize=SYNTHETIC_CACHE_SIZE)
def synthetic_market(
    symbols: tuple[str, ...], start: date, end: date, factors: tuple[str, ...] = ()
) -> MarketData:
    """A reproducible market: geometric random walks on business days driven by one market factor.

    Each symbol draws its drift, volatility, beta and noise from a generator seeded by its name,
    so a symbol's path does not depend on the rest of the universe. Cached per process.
    """
    dates = pd.bdate_range(start, end).values.astype("datetime64[D]")
    if dates.size < 2:
        raise DataSourceError(f"{start} to {end} holds fewer than 2 business days; widen the dates")
    n_days = dates.size
    dt = 1.0 / TRADING_DAYS_PER_YEAR
    market_rng = np.random.default_rng(stable_seed(MARKET_SEED_KEY))
    market_shock = market_rng.standard_normal(n_days - 1) * MARKET_VOLATILITY * np.sqrt(dt)

    log_close = np.empty((n_days, len(symbols)))
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

    factor_series = {name: _frozen(_synthetic_factor(name, symbols, n_days)) for name in factors}
    return MarketData(
        symbols=tuple(symbols),
        dates=_frozen(dates),
        close=_frozen(np.exp(log_close)),
        factors=factor_series,
        source=SYNTHETIC_SOURCE,
    )


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


# --------------------------------------------------------------------------- folder


def load_folder(folder: Path, config: SweepConfig) -> MarketData:
    """Read `<SYMBOL>.parquet|.csv` for every symbol of the universe and align them on dates."""
    if not folder.is_dir():
        raise DataSourceError(
            f"data folder {folder} does not exist or is not a folder; set BACKTEST_DATA_SOURCE to "
            "'synthetic' or to a folder holding <SYMBOL>.csv or <SYMBOL>.parquet files"
        )
    start, end = pd.Timestamp(config.start_date), pd.Timestamp(config.end_date)
    closes: dict[str, pd.Series] = {}
    factor_columns: dict[str, dict[str, pd.Series]] = {name: {} for name in config.factors}
    for symbol in config.universe:
        frame = _read_symbol(folder, symbol, config.factors)
        frame = frame[(frame.index >= start) & (frame.index <= end)]
        if frame[CLOSE_COLUMN].notna().sum() == 0:
            raise DataSourceError(
                f"{symbol}: no prices between {config.start_date} and {config.end_date} in {folder}; "
                "check the file or the sweep dates"
            )
        closes[symbol] = frame[CLOSE_COLUMN]
        for name in config.factors:
            factor_columns[name][symbol] = frame[name]

    close = pd.DataFrame(closes).sort_index()
    if len(close.index) < 2:
        raise DataSourceError(f"fewer than 2 dates of prices in {folder} within the sweep dates; widen them")
    tradable = close.notna().cummax().to_numpy()
    close_values = close.ffill().bfill().to_numpy(dtype=np.float64)
    factors = {}
    for name, columns in factor_columns.items():
        frame = pd.DataFrame(columns).reindex(index=close.index, columns=close.columns)
        # A symbol without any value of a factor keeps NaN: the ranking treats it as neutral.
        factors[name] = _frozen(frame.ffill().bfill().to_numpy(dtype=np.float64))
    return MarketData(
        symbols=tuple(close.columns),
        dates=_frozen(close.index.values.astype("datetime64[D]")),
        close=_frozen(close_values),
        factors=factors,
        tradable=_frozen(tradable),
        source=str(folder),
    )


def _read_symbol(folder: Path, symbol: str, factors: list[str]) -> pd.DataFrame:
    candidates = [folder / f"{symbol}{suffix}" for suffix in FILE_SUFFIXES]
    path = next((candidate for candidate in candidates if candidate.is_file()), None)
    if path is None:
        raise DataSourceError(f"no {symbol}.parquet or {symbol}.csv in {folder}; add it or drop {symbol}")
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many kinds for unreadable files
        raise DataSourceError(f"cannot read {path}: {exc}".splitlines()[0]) from exc
    frame.columns = [_column_name(column) for column in frame.columns]
    missing = [c for c in (DATE_COLUMN, CLOSE_COLUMN, *factors) if c not in frame.columns]
    if missing:
        raise DataSourceError(
            f"{path} lacks column(s) {', '.join(missing)}; expected date, close and the sweep's factors"
        )
    try:
        index = pd.to_datetime(frame[DATE_COLUMN]).dt.tz_localize(None).dt.normalize()
        values = frame[[CLOSE_COLUMN, *factors]].apply(pd.to_numeric, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise DataSourceError(f"{path}: unreadable date or number ({exc})".splitlines()[0]) from exc
    values.index = pd.DatetimeIndex(index)
    values = values[~values.index.duplicated(keep="last")].sort_index()
    close = values[CLOSE_COLUMN]
    if (close <= 0).any() or np.isinf(close).any():
        raise DataSourceError(f"{path}: close prices must be positive and finite")
    return values


def _column_name(column: object) -> str:
    name = str(column).strip()
    return name.lower() if name.lower() in (DATE_COLUMN, CLOSE_COLUMN) else name
