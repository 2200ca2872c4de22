"""Market data for the engine: aligned bars of one universe, their frequency, and the source dispatch."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from airflow_backtest_framework.config import SweepConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")

SYNTHETIC_SOURCE = "synthetic"
SAMPLE_SOURCE = "sample"
DATABASE_SOURCE = "database"  # the PostgreSQL market-data database at DB_HOST
# Bar frequencies the engine runs, with the median spacing of their dates (calendar days) and the
# bars per year that annualise their returns. Anything else is refused, never resampled.
DAILY = "daily"
BARS_PER_YEAR = {DAILY: 252, "weekly": 52, "monthly": 12, "quarterly": 4, "yearly": 1}
SPACING_DAYS = {
    DAILY: (1, 4),
    "weekly": (5, 9),
    "monthly": (25, 35),
    "quarterly": (80, 100),
    "yearly": (350, 380),
}
TRADING_DAYS_PER_YEAR = BARS_PER_YEAR[DAILY]
DAYS_PER_YEAR = 365.25


class DataSourceError(ValueError):
    """Market data that cannot be loaded; the message says what to fix."""


@dataclass(frozen=True, eq=False)
class MarketData:
    """Aligned bars (dates × symbols) and factor series of one universe.

    `close` is forward-filled inside a symbol's quoted range; before its first quote it holds the
    first quote (so arithmetic stays finite) and after its last quote the last one, but `tradable`
    is False outside the range and nothing is entered or held there. `open`/`high`/`low` are None
    when the source has closes only. Factors are forward-filled only (NaN before their first value).
    """

    symbols: tuple[str, ...]
    dates: np.ndarray  # datetime64[D], shape (T,)
    close: np.ndarray  # float64, shape (T, N), positive and finite
    factors: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T, N) float64
    tradable: np.ndarray | None = None  # bool (T, N); None means every bar
    source: str = SYNTHETIC_SOURCE
    open: np.ndarray | None = None  # (T, N) or None
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    frequency: str = DAILY
    synthetic: bool = False
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

    @property
    def has_ohlc(self) -> bool:
        return self.open is not None and self.high is not None and self.low is not None

    @property
    def bars_per_year(self) -> int:
        return BARS_PER_YEAR[self.frequency]

    @cached_property
    def log_close_by_date(self) -> np.ndarray:
        """Natural log of the closes, dates × symbols (for cross-sectional work), computed once."""
        return frozen(np.log(self.close))

    @cached_property
    def log_close_by_symbol(self) -> np.ndarray:
        """Natural log of the closes, symbols × dates (the engine's layout), computed once."""
        return frozen(np.ascontiguousarray(self.log_close_by_date.T))

    def log_by_symbol(self, name: str) -> np.ndarray:
        """Log of `open`, `high` or `low`, symbols × dates (the close where the data has no OHLC)."""
        values = getattr(self, name)
        if values is None:
            return self.log_close_by_symbol
        return self.derived(f"log_{name}", lambda: frozen(np.ascontiguousarray(np.log(values).T)))

    @cached_property
    def returns_by_symbol(self) -> np.ndarray:
        """Simple close-to-close returns, symbols × dates; day 0 is zero."""
        close = np.ascontiguousarray(self.close.T)
        out = np.zeros_like(close)
        np.divide(close[:, 1:], close[:, :-1], out=out[:, 1:])
        out[:, 1:] -= 1.0
        return frozen(out)

    @cached_property
    def tradable_by_symbol(self) -> np.ndarray | None:
        """`tradable`, symbols × dates."""
        return None if self.tradable is None else frozen(np.ascontiguousarray(self.tradable.T))

    @cached_property
    def last_quote(self) -> np.ndarray:
        """Index of each symbol's last quoted bar (T - 1 when it quotes to the end), int64 (N,)."""
        if self.tradable is None:
            return np.full(self.n_symbols, self.n_days - 1, dtype=np.int64)
        last = self.n_days - 1 - np.argmax(self.tradable[::-1], axis=0)
        return frozen(np.where(self.tradable.any(axis=0), last, -1).astype(np.int64))

    @cached_property
    def years(self) -> float:
        """Calendar length of the sample in years (at least one day)."""
        days = int((self.dates[-1] - self.dates[0]).astype("timedelta64[D]").astype(np.int64))
        return max(days, 1) / DAYS_PER_YEAR


def frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def stable_seed(*parts: str) -> int:
    """A 64-bit seed from text, identical in every process (unlike the salted built-in hash())."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def detect_frequency(dates: np.ndarray) -> str:
    """The bar frequency of sorted daily dates, from their median spacing; DataSourceError otherwise."""
    if dates.size < 2:
        raise DataSourceError("fewer than 2 bars within the sweep dates; widen them")
    spacing = float(np.median(np.diff(dates).astype("timedelta64[D]").astype(np.int64)))
    for name, (low, high) in SPACING_DAYS.items():
        if low <= spacing <= high:
            return name
    raise DataSourceError(
        f"bars {spacing:g} days apart (median) are not daily, weekly, monthly, quarterly or yearly; "
        "the engine does not resample: provide one of those frequencies"
    )


def lag_factors(data: MarketData, lags: dict[str, int]) -> MarketData:
    """The data with each factor shifted `lags[name]` bars later (published that many bars after its date)."""
    if not any(lags.get(name, 0) for name in data.factors):
        return data
    shifted = {}
    for name, values in data.factors.items():
        lag = min(lags.get(name, 0), data.n_days)
        if lag:
            moved = np.full_like(values, np.nan)
            moved[lag:] = values[: data.n_days - lag]
            values = frozen(moved)
        shifted[name] = values
    kept = {
        key: getattr(data, key) for key in data.__dataclass_fields__ if key not in ("factors", "_derived")
    }
    return MarketData(factors=shifted, **kept)


def load_market_data(
    config: SweepConfig, source: str = SYNTHETIC_SOURCE, database: str | None = None
) -> MarketData:
    """Market data for the spec's universe, dates and factors (factor publication lags applied).

    `source` is `synthetic` (deterministic simulated market, "not evidence"), `sample` (real daily
    OHLCV bundled by bokeh-sampledata), `database` (the PostgreSQL database whose connection string
    or host is `database`, i.e. DB_HOST) or the path of a folder holding one `<SYMBOL>.parquet` or
    `<SYMBOL>.csv` per symbol. Raises DataSourceError when the source cannot be used.
    """
    from backtest_engine.sources import load_folder, load_sample
    from backtest_engine.synthetic import synthetic_market

    started = time.perf_counter()
    source = (source or SYNTHETIC_SOURCE).strip()
    if source == SYNTHETIC_SOURCE:
        data = synthetic_market(
            tuple(config.universe), config.start_date, config.end_date, tuple(config.factors)
        )
    elif source == SAMPLE_SOURCE:
        data = load_sample(config)
    elif source == DATABASE_SOURCE:
        from backtest_engine.database import load_database
        from backtest_engine.db_connection import database_dsn

        data = load_database(database_dsn(database), config)
    else:
        from pathlib import Path

        data = load_folder(Path(source), config)
    data = lag_factors(data, config.factor_lags)
    logger.debug(
        "market data %s: %d %s bars x %d symbols in %.3fs",
        data.source,
        data.n_days,
        data.frequency,
        data.n_symbols,
        time.perf_counter() - started,
    )
    return data
