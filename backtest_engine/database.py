"""The market-data database (PostgreSQL, `DB_HOST`): daily bars and factor values, read for a sweep.

Schema (created by `python -m backtest_engine.load_market_data`, see `SCHEMA`):
`bars(symbol, date, open, high, low, close, volume)`, key (symbol, date), one row per quoted day;
`factor_values(symbol, date, factor, value)`, key (symbol, factor, date), one row per known value.
The rows of the sweep's universe and dates go through the folder source's `assemble()`, so the
alignment and no-look-ahead rules are the same for every source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from airflow_backtest_framework.config import SweepConfig
from backtest_engine.data import DataSourceError, MarketData
from backtest_engine.db_connection import connect, database_dsn, describe_database, scrubbed_reason
from backtest_engine.sources import CLOSE_COLUMN, OHLC_COLUMNS, assemble

if TYPE_CHECKING:
    import psycopg

BARS_TABLE = "bars"
FACTORS_TABLE = "factor_values"
LOADER_COMMAND = "python -m backtest_engine.load_market_data"
SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {BARS_TABLE} (
    symbol text NOT NULL,
    date date NOT NULL,
    open double precision CHECK (open > 0 AND open < 'Infinity'),
    high double precision CHECK (high > 0 AND high < 'Infinity'),
    low double precision CHECK (low > 0 AND low < 'Infinity'),
    close double precision NOT NULL CHECK (close > 0 AND close < 'Infinity'),
    volume double precision,
    PRIMARY KEY (symbol, date)
)""",
    f"""CREATE TABLE IF NOT EXISTS {FACTORS_TABLE} (
    symbol text NOT NULL,
    date date NOT NULL,
    factor text NOT NULL,
    value double precision NOT NULL CHECK (value > '-Infinity' AND value < 'Infinity'),
    PRIMARY KEY (symbol, factor, date)
)""",
)
_BARS_QUERY = f"""SELECT symbol, date, open, high, low, close FROM {BARS_TABLE}
WHERE symbol = ANY(%s) AND date BETWEEN %s AND %s ORDER BY symbol, date"""
_FACTORS_QUERY = f"""SELECT symbol, factor, date, value FROM {FACTORS_TABLE}
WHERE symbol = ANY(%s) AND factor = ANY(%s) AND date BETWEEN %s AND %s ORDER BY symbol, factor, date"""
_MISSING_FACTORS_QUERY = f"""SELECT s.symbol, f.factor FROM unnest(%s::text[]) AS s(symbol)
CROSS JOIN unnest(%s::text[]) AS f(factor) WHERE NOT EXISTS (
SELECT 1 FROM {FACTORS_TABLE} v WHERE v.symbol = s.symbol AND v.factor = f.factor)"""
# One query; each min/max is an index lookup on the (symbol, date) key.
_COVERAGE_QUERY = f"""SELECT s.symbol,
(SELECT min(b.date) FROM {BARS_TABLE} b WHERE b.symbol = s.symbol),
(SELECT max(b.date) FROM {BARS_TABLE} b WHERE b.symbol = s.symbol)
FROM unnest(%s::text[]) AS s(symbol)"""


def load_database(dsn: str, config: SweepConfig) -> MarketData:
    """The sweep's universe, dates and factors from the database at `dsn` (a URL or a DB_HOST host).

    Raises DataSourceError naming the database (never its password) and the fix: unreachable,
    no schema, symbols or factors absent.
    """
    dsn = database_dsn(dsn)
    symbols = list(config.universe)
    window = (config.start_date, config.end_date)
    with _session(dsn) as cursor:
        cursor.execute(_BARS_QUERY, (symbols, *window))
        bars = cursor.fetchall()
        factor_rows: list[tuple[Any, ...]] = []
        if config.factors:
            cursor.execute(_FACTORS_QUERY, (symbols, list(config.factors), *window))
            factor_rows = cursor.fetchall()
            _check_factors(cursor, dsn, symbols, list(config.factors), factor_rows)
        frames = _bar_frames(bars)
        absent = [symbol for symbol in symbols if symbol not in frames]
        if absent:
            cursor.execute(_COVERAGE_QUERY, (absent,))
            _refuse_absent(dsn, config, cursor.fetchall())
    _attach_factors(frames, factor_rows, list(config.factors))
    return assemble({symbol: frames[symbol] for symbol in symbols}, config, describe_database(dsn))


def database_coverage(dsn: str, symbols: Sequence[str]) -> dict[str, tuple[date, date] | None]:
    """First and last quoted date of each symbol in the database (None when it has no bars); one query."""
    dsn = database_dsn(dsn)
    with _session(dsn) as cursor:
        cursor.execute(_COVERAGE_QUERY, (list(symbols),))
        found = {symbol: (first, last) for symbol, first, last in cursor.fetchall() if first is not None}
    return {symbol: found.get(symbol) for symbol in symbols}


@contextmanager
def _session(dsn: str) -> Iterator[psycopg.Cursor]:
    """A read-only cursor; a missing table or a failing query becomes a DataSourceError with the fix."""
    import psycopg

    with connect(dsn) as connection:
        connection.read_only = True
        try:
            with connection.cursor(binary=True) as cursor:
                yield cursor
        except psycopg.errors.UndefinedTable:
            raise DataSourceError(
                f"the market-data database {describe_database(dsn)} has no {BARS_TABLE} and "
                f"{FACTORS_TABLE} tables; create and fill them with {LOADER_COMMAND} --create-schema"
            ) from None
        except psycopg.Error as exc:
            raise DataSourceError(
                f"reading the market-data database {describe_database(dsn)} failed "
                f"({scrubbed_reason(exc, dsn)}); check its {BARS_TABLE} and {FACTORS_TABLE} tables"
            ) from None


def _bar_frames(rows: list[tuple[Any, ...]]) -> dict[str, pd.DataFrame]:
    """Per symbol: a DatetimeIndex frame of close (and open/high/low when the symbol has them)."""
    columns = ["symbol", "date", *OHLC_COLUMNS, CLOSE_COLUMN]
    table = pd.DataFrame(rows, columns=columns)
    frames = {}
    for symbol, group in table.groupby("symbol", sort=False):
        frame = group[[*OHLC_COLUMNS, CLOSE_COLUMN]].astype(np.float64)
        frame.index = pd.DatetimeIndex(pd.to_datetime(group["date"]))
        if frame[list(OHLC_COLUMNS)].isna().all().any():  # close-only bars, like a file without OHLC
            frame = frame[[CLOSE_COLUMN]]
        frames[str(symbol)] = frame
    return frames


def _attach_factors(frames: dict[str, pd.DataFrame], rows: list[tuple[Any, ...]], factors: list[str]) -> None:
    """Add one column per factor to each symbol's frame: the last value dated on or before each bar."""
    for frame in frames.values():
        for name in factors:
            frame[name] = np.nan
    table = pd.DataFrame(rows, columns=["symbol", "factor", "date", "value"])
    for (symbol, name), group in table.groupby(["symbol", "factor"], sort=False):
        frame = frames.get(str(symbol))
        if frame is not None:
            series = pd.Series(group["value"].to_numpy(np.float64), index=pd.to_datetime(group["date"]))
            frame[str(name)] = series.reindex(frame.index, method="ffill").to_numpy()


def _check_factors(
    cursor: psycopg.Cursor, dsn: str, symbols: list[str], factors: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """A factor with no value at all for a symbol is missing data (like a file without its column)."""
    seen = {(symbol, factor) for symbol, factor, _, _ in rows}
    if len(seen) == len(symbols) * len(factors):
        return
    cursor.execute(_MISSING_FACTORS_QUERY, (symbols, factors))
    missing = cursor.fetchall()
    if missing:
        pairs = ", ".join(f"{factor} of {symbol}" for symbol, factor in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DataSourceError(
            f"the market-data database {describe_database(dsn)} has no {pairs}{more} in "
            f"{FACTORS_TABLE}; load them with {LOADER_COMMAND} or drop the factor"
        )


def _refuse_absent(dsn: str, config: SweepConfig, coverage: list[tuple[Any, ...]]) -> None:
    never = [symbol for symbol, first, _ in coverage if first is None]
    elsewhere = [f"{symbol} ({first} to {last})" for symbol, first, last in coverage if first is not None]
    where = f"the market-data database {describe_database(dsn)}"
    if never:
        raise DataSourceError(
            f"{where} has no bars of {', '.join(never)}; load them with {LOADER_COMMAND} "
            "or drop them from the universe"
        )
    raise DataSourceError(
        f"{where} has no bars between {config.start_date} and {config.end_date} for "
        f"{', '.join(elsewhere)}; change the sweep dates or drop them from the universe"
    )
