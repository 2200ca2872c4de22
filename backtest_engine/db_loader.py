"""Import CSV/Parquet folders and the bundled sample into the market-data database (idempotent upserts).

Run it as `python -m backtest_engine.load_market_data` (see `--help`). Files are read by the folder
source's own reader, so a file the loader accepts is one the engine reads the same way from a
folder; every bad file is named with its fix and nothing is written until all of them are good.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airflow_backtest_framework.engine_contract import ENV_DB_HOST
from backtest_engine.data import SAMPLE_SOURCE, DataSourceError
from backtest_engine.database import BARS_TABLE, FACTORS_TABLE, LOADER_COMMAND, SCHEMA
from backtest_engine.db_connection import connect, database_dsn, describe_database, scrubbed_reason
from backtest_engine.sources import (
    CLOSE_COLUMN,
    FILE_SUFFIXES,
    OHLC_COLUMNS,
    VOLUME_COLUMN,
    read_symbol,
    sample_frames,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
BAR_COLUMNS = ("symbol", "date", *OHLC_COLUMNS, CLOSE_COLUMN, VOLUME_COLUMN)
FACTOR_COLUMNS = ("symbol", "date", "factor", "value")
_KEYS = {BARS_TABLE: ("symbol", "date"), FACTORS_TABLE: ("symbol", "factor", "date")}


class ImportRefused(DataSourceError):
    """The database refused the rows (constraint, permissions): the transaction wrote nothing."""


@dataclass
class Batch:
    """The symbols read for one import: their frames and where each came from."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, symbol: str, frame: pd.DataFrame, origin: str) -> None:
        if symbol in self.origins:
            self.errors.append(
                f"{symbol} is in both {self.origins[symbol]} and {origin}; import only one of them"
            )
            return
        self.frames[symbol] = frame
        self.origins[symbol] = origin


def read_sources(folders: Sequence[Path], sample: bool) -> Batch:
    """Every `<SYMBOL>.csv|.parquet` of the folders (and the sample's tickers); errors collected."""
    batch = Batch()
    if sample:
        for symbol, frame in sample_frames().items():
            batch.add(symbol, frame, f"the '{SAMPLE_SOURCE}' data")
    for folder in folders:
        if not folder.is_dir():
            batch.errors.append(f"{folder} is not a folder; name a folder of <SYMBOL>.csv or .parquet files")
            continue
        symbols = sorted({path.stem for path in folder.iterdir() if path.suffix in FILE_SUFFIXES})
        if not symbols:
            batch.errors.append(f"{folder} holds no <SYMBOL>.csv or <SYMBOL>.parquet file; add them")
        for symbol in symbols:
            try:
                batch.add(symbol, read_symbol(folder, symbol, None), str(folder))
            except DataSourceError as exc:
                batch.errors.append(str(exc))
    return batch


def bar_rows(symbol: str, frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The `bars` rows of a symbol's frame: days with a close; missing open/high/low/volume as NULL."""
    frame = frame[frame[CLOSE_COLUMN].notna()]
    columns = [frame[name] if name in frame.columns else None for name in BAR_COLUMNS[2:]]
    values = [_nullable(column, len(frame)) for column in columns]
    for day, *row in zip(frame.index.date, *values, strict=True):
        yield (symbol, day, *row)


def factor_rows(symbol: str, frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The `factor_values` rows of a symbol's frame: one per known (non-missing) value."""
    for name in frame.columns:
        if name in (*OHLC_COLUMNS, CLOSE_COLUMN, VOLUME_COLUMN):
            continue
        column = frame[name].astype(np.float64)
        known = column[np.isfinite(column.to_numpy())]
        for day, value in zip(known.index.date, known.to_numpy().tolist(), strict=True):
            yield (symbol, day, str(name), value)


def _nullable(column: pd.Series | None, size: int) -> list[float | None]:
    if column is None:
        return [None] * size
    values = column.to_numpy(dtype=np.float64)
    return [value if np.isfinite(value) else None for value in values.tolist()]


def create_schema(connection: Any) -> None:
    """The tables, if missing (idempotent)."""
    for statement in SCHEMA:
        connection.execute(statement)


def upsert(
    connection: Any, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]
) -> dict[str, tuple[int, int]]:
    """Insert or update `rows` by the table's key (unchanged rows are not touched).

    Returns (new, changed) row counts per symbol."""
    keys = _KEYS[table]
    staging = f"incoming_{table}"
    connection.execute(f"CREATE TEMP TABLE {staging} (LIKE {table}) ON COMMIT DROP")
    with connection.cursor().copy(f"COPY {staging} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    values = [name for name in columns if name not in keys]
    assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in values)
    old = ", ".join(f"{table}.{name}" for name in values)
    new = ", ".join(f"EXCLUDED.{name}" for name in values)
    statement = f"""WITH written AS (
INSERT INTO {table} ({", ".join(columns)}) SELECT {", ".join(columns)} FROM {staging}
ON CONFLICT ({", ".join(keys)}) DO UPDATE SET {assignments} WHERE ({old}) IS DISTINCT FROM ({new})
RETURNING symbol, (xmax = 0) AS inserted)
SELECT symbol, count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
FROM written GROUP BY symbol"""
    return {symbol: (new_rows, changed) for symbol, new_rows, changed in connection.execute(statement)}


def import_batch(dsn: str, batch: Batch, replace: bool) -> list[str]:
    """Write the batch in one transaction; the summary lines (one per symbol, then the totals)."""
    import psycopg

    symbols = sorted(batch.frames)
    with connect(dsn) as connection:
        try:
            with connection.transaction():
                create_schema(connection)
                if replace and symbols:
                    for table in (BARS_TABLE, FACTORS_TABLE):
                        connection.execute(f"DELETE FROM {table} WHERE symbol = ANY(%s)", (symbols,))
                bars = upsert(connection, BARS_TABLE, BAR_COLUMNS, _all(batch, bar_rows))
                factors = upsert(connection, FACTORS_TABLE, FACTOR_COLUMNS, _all(batch, factor_rows))
                totals = _totals(connection, symbols)
        except psycopg.Error as exc:
            raise ImportRefused(
                f"importing into {describe_database(dsn)} failed ({scrubbed_reason(exc, dsn)}); "
                "nothing was written"
            ) from None
    return _summary(describe_database(dsn), symbols, bars, factors, totals)


def _all(batch: Batch, rows_of: Any) -> Iterator[tuple[Any, ...]]:
    for symbol in sorted(batch.frames):
        yield from rows_of(symbol, batch.frames[symbol])


def _totals(connection: Any, symbols: list[str]) -> dict[str, tuple[int, int]]:
    """Rows each symbol now has in the database: (bars, factor values)."""
    counts: dict[str, list[int]] = {symbol: [0, 0] for symbol in symbols}
    for position, table in enumerate((BARS_TABLE, FACTORS_TABLE)):
        query = f"SELECT symbol, count(*) FROM {table} WHERE symbol = ANY(%s) GROUP BY symbol"
        for symbol, count in connection.execute(query, (symbols,)):
            counts[symbol][position] = count
    return {symbol: (bars, factors) for symbol, (bars, factors) in counts.items()}


def _summary(
    where: str,
    symbols: list[str],
    bars: Mapping[str, tuple[int, int]],
    factors: Mapping[str, tuple[int, int]],
    totals: Mapping[str, tuple[int, int]],
) -> list[str]:
    lines = []
    for symbol in symbols:
        new_bars, changed_bars = bars.get(symbol, (0, 0))
        new_values, changed_values = factors.get(symbol, (0, 0))
        held_bars, held_values = totals[symbol]
        lines.append(
            f"{symbol}: {held_bars} bars ({new_bars} new, {changed_bars} changed), "
            f"{held_values} factor values ({new_values} new, {changed_values} changed)"
        )
    held = [sum(column) for column in zip(*totals.values(), strict=True)] or [0, 0]
    lines.append(f"{len(symbols)} symbols in {where}: {held[0]} bars, {held[1]} factor values")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=LOADER_COMMAND,
        description=(
            "Import folders of <SYMBOL>.csv|.parquet files (columns date, close, optionally open, high, "
            "low, volume; every other column a factor) and/or the bundled sample into the market-data "
            "database. Rows are inserted or updated by key; running it twice changes nothing."
        ),
    )
    parser.add_argument("folders", nargs="*", type=Path, help="folders of <SYMBOL>.csv|.parquet files")
    parser.add_argument("--sample", action="store_true", help="import the bundled sample too")
    parser.add_argument(
        "--db",
        default=None,
        help=f"connection URL or host (default: {ENV_DB_HOST}, with DB_PORT, DB_NAME, DB_USER, DB_PASSWORD)",
    )
    parser.add_argument(
        "--create-schema",
        action="store_true",
        help="create the tables if missing (every import does so too); alone, only that",
    )
    parser.add_argument(
        "--replace", action="store_true", help="delete the imported symbols' rows first (drops stale dates)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The command: 0 imported, 1 the database refused the rows, 2 bad input (each named, nothing written)."""
    args = parse_args(argv)
    environ = os.environ if environ is None else environ
    if not (args.folders or args.sample or args.create_schema):
        return _fail("nothing to import: name one or more folders, or --sample (or --create-schema)")
    try:
        dsn = database_dsn(args.db or environ.get(ENV_DB_HOST), environ)
    except DataSourceError as exc:
        return _fail(str(exc).replace("the 'database' data source needs", "the loader needs --db or"))
    batch = read_sources(args.folders, args.sample)
    if batch.errors:
        for error in batch.errors:
            print(f"error: {error}", file=sys.stderr)
        return _fail(f"nothing imported: fix the {len(batch.errors)} problem(s) above and run it again")
    try:
        lines = import_batch(dsn, batch, args.replace)
    except ImportRefused as exc:
        return _fail(str(exc), EXIT_FAILED)
    except DataSourceError as exc:  # the database cannot be reached
        return _fail(str(exc))
    print("\n".join(lines))
    return EXIT_OK


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
