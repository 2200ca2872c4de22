"""Real market data: a folder of CSV/Parquet files per symbol, and the bundled sample (bokeh-sampledata)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from airflow_backtest_framework.config import SweepConfig
from backtest_engine.data import SAMPLE_SOURCE, DataSourceError, MarketData, detect_frequency, frozen

DATE_COLUMN = "date"
CLOSE_COLUMN = "close"
OHLC_COLUMNS = ("open", "high", "low")
PRICE_COLUMNS = (*OHLC_COLUMNS, CLOSE_COLUMN)
VOLUME_COLUMN = "volume"  # optional; kept by the database loader, unused by the strategies
FILE_SUFFIXES = (".parquet", ".csv")
SAMPLE_FILE = "stocks.csv.gz"  # bokeh-sampledata's daily OHLCV (Quandl WIKI, public domain)
SAMPLE_TICKER_COLUMN = "Ticker"
SAMPLE_ADJUSTED_CLOSE = "Adj Close"
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_HOUR = 60


# --------------------------------------------------------------------------- alignment


def assemble(frames: Mapping[str, pd.DataFrame], config: SweepConfig, source: str) -> MarketData:
    """Align per-symbol frames (DatetimeIndex; close, maybe open/high/low, factors) on the union of dates.

    Prices are forward-filled inside each symbol's quoted range only; factors forward-filled only.
    """
    start, end = pd.Timestamp(config.start_date), pd.Timestamp(config.end_date)
    frames = {
        symbol: frame[(frame.index >= start) & (frame.index <= end)] for symbol, frame in frames.items()
    }
    for symbol, frame in frames.items():
        if frame[CLOSE_COLUMN].notna().sum() == 0:
            raise DataSourceError(
                f"{symbol}: no prices between {config.start_date} and {config.end_date} in {source}; "
                "check the data or the sweep dates"
            )
    close = pd.DataFrame({symbol: frame[CLOSE_COLUMN] for symbol, frame in frames.items()}).sort_index()
    dates = close.index.values.astype("datetime64[D]")
    frequency = detect_frequency(dates)
    quoted = close.notna()
    tradable = (quoted.cummax() & quoted[::-1].cummax()[::-1]).to_numpy()
    filled = close.ffill().bfill()  # the bfill reaches only the bars before the first quote
    prices = {}
    if all(set(OHLC_COLUMNS) <= set(frame.columns) for frame in frames.values()):
        for name in OHLC_COLUMNS:
            column = pd.DataFrame({s: f[name] for s, f in frames.items()}).reindex(close.index)
            # A bar without a quote is flat at the carried close.
            prices[name] = frozen(column.where(quoted, filled).fillna(filled).to_numpy(dtype=np.float64))
    factors = {}
    for name in config.factors:
        column = pd.DataFrame({s: f[name] for s, f in frames.items()}).reindex(close.index)
        factors[name] = frozen(column.ffill().to_numpy(dtype=np.float64))
    return MarketData(
        symbols=tuple(close.columns),
        dates=frozen(dates),
        close=frozen(filled.to_numpy(dtype=np.float64)),
        factors=factors,
        tradable=frozen(tradable),
        source=source,
        frequency=frequency,
        **prices,
    )


def _check_prices(frame: pd.DataFrame, where: str) -> None:
    for name in PRICE_COLUMNS:
        if name in frame.columns:
            values = frame[name]
            if (values <= 0).any() or np.isinf(values).any():
                raise DataSourceError(f"{where}: {name} prices must be positive and finite")


# --------------------------------------------------------------------------- folder


def load_folder(folder: Path, config: SweepConfig) -> MarketData:
    """Read `<SYMBOL>.parquet|.csv` for every symbol of the universe and align them on dates."""
    if not folder.is_dir():
        raise DataSourceError(
            f"data folder {folder} does not exist or is not a folder where the engine runs; set the "
            "sweep's data folder in Configure (or BACKTEST_DATA_SOURCE for sweeps that choose none) to "
            "a folder holding <SYMBOL>.csv or <SYMBOL>.parquet files, or choose another data source"
        )
    frames = {symbol: read_symbol(folder, symbol, config.factors) for symbol in config.universe}
    return assemble(frames, config, str(folder))


def read_symbol(folder: Path, symbol: str, factors: list[str] | None) -> pd.DataFrame:
    """`<SYMBOL>.parquet` (or else `.csv`) of `folder`: daily rows of [open, high, low,] close
    [, volume] and `factors` (None: every other column is a factor), indexed by date."""
    candidates = [folder / f"{symbol}{suffix}" for suffix in FILE_SUFFIXES]
    path = next((candidate for candidate in candidates if candidate.is_file()), None)
    if path is None:
        raise DataSourceError(f"no {symbol}.parquet or {symbol}.csv in {folder}; add it or drop {symbol}")
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many kinds for unreadable files
        raise DataSourceError(f"cannot read {path}: {exc}".splitlines()[0]) from exc
    frame.columns = [_column_name(column) for column in frame.columns]
    if factors is None:
        factors = [c for c in frame.columns if c not in (DATE_COLUMN, *PRICE_COLUMNS, VOLUME_COLUMN)]
    missing = [c for c in (DATE_COLUMN, CLOSE_COLUMN, *factors) if c not in frame.columns]
    if missing:
        raise DataSourceError(
            f"{path} lacks column(s) {', '.join(missing)}; expected date, close and the sweep's factors"
        )
    ohlc = [name for name in OHLC_COLUMNS if name in frame.columns]
    columns = [*(ohlc if len(ohlc) == len(OHLC_COLUMNS) else []), CLOSE_COLUMN, *factors]
    columns += [VOLUME_COLUMN] if VOLUME_COLUMN in frame.columns else []
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(frame[DATE_COLUMN])).tz_localize(None)
        values = frame[columns].apply(pd.to_numeric, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise DataSourceError(f"{path}: unreadable date or number ({exc})".splitlines()[0]) from exc
    _refuse_intraday(stamps, path)
    values.index = stamps.normalize()
    values = values[~values.index.duplicated(keep="last")].sort_index()
    _check_prices(values, str(path))
    return values


def _refuse_intraday(stamps: pd.DatetimeIndex, path: Path) -> None:
    """Several bars on one date are intraday bars: refused with their frequency, never cut to one a day."""
    days = stamps.normalize()
    if days.nunique() == len(days):
        return
    ordered = stamps.sort_values()
    minutes = float(np.median(np.diff(ordered.values).astype("timedelta64[m]").astype(np.int64)))
    if minutes >= MINUTES_PER_HOUR and minutes % MINUTES_PER_HOUR == 0:
        label = "hourly" if minutes == MINUTES_PER_HOUR else f"{minutes / MINUTES_PER_HOUR:g}-hour"
    else:
        label = f"{minutes:g}-minute"
    raise DataSourceError(
        f"{path}: {label} bars (several a day); the engine runs daily or slower bars and does not "
        "resample: provide daily bars"
    )


def _column_name(column: object) -> str:
    name = str(column).strip()
    return name.lower() if name.lower() in (DATE_COLUMN, *PRICE_COLUMNS, VOLUME_COLUMN) else name


# --------------------------------------------------------------------------- bundled sample


@functools.lru_cache(maxsize=1)
def sample_frames() -> dict[str, pd.DataFrame]:
    """The bundled sample per ticker: split- and dividend-adjusted daily OHLC (read once per process)."""
    from bokeh_sampledata import package_path  # a runtime dependency; its data ship inside the wheel

    raw = pd.read_csv(package_path(SAMPLE_FILE), parse_dates=["Date"])
    frames = {}
    for ticker, rows in raw.groupby(SAMPLE_TICKER_COLUMN, sort=True):
        rows = rows.set_index("Date").sort_index()
        # The source's OHLC are unadjusted; scale them by the adjusted close's factor.
        factor = rows[SAMPLE_ADJUSTED_CLOSE] / rows["Close"]
        frame = pd.DataFrame({name: rows[name.capitalize()] * factor for name in PRICE_COLUMNS})
        frame.index = pd.DatetimeIndex(frame.index).normalize()
        frames[str(ticker)] = frame
    return frames


def load_sample(config: SweepConfig) -> MarketData:
    """The spec's universe from the bundled real sample (no factor data; dates 2000-03 to 2013-03)."""
    frames = sample_frames()
    unknown = [symbol for symbol in config.universe if symbol not in frames]
    if unknown:
        raise DataSourceError(
            f"the '{SAMPLE_SOURCE}' data holds {', '.join(frames)}, not {', '.join(unknown)}; "
            "narrow the universe or use another data source"
        )
    if config.factors:
        raise DataSourceError(
            f"the '{SAMPLE_SOURCE}' data holds prices only, no factor {config.factors[0]}; "
            "drop the factors or use a data folder that has them"
        )
    return assemble({symbol: frames[symbol] for symbol in config.universe}, config, SAMPLE_SOURCE)


# --------------------------------------------------------------------------- coverage (preflight)

Coverage = dict[str, tuple[date, date] | None]


def sample_coverage(symbols: Iterable[str]) -> Coverage:
    """Each symbol's first and last date in the bundled sample; None for a symbol it does not hold."""
    frames = sample_frames()
    return {
        symbol: (frames[symbol].index[0].date(), frames[symbol].index[-1].date())
        if symbol in frames
        else None
        for symbol in symbols
    }


def folder_coverage(folder: Path, symbols: Iterable[str]) -> Coverage:
    """Each symbol's first and last date in `folder` (its date column only); None without a file.

    DataSourceError when the folder is missing or a file cannot be read.
    """
    if not folder.is_dir():
        raise DataSourceError(f"data folder {folder} does not exist or is not a folder")
    coverage: Coverage = {}
    for symbol in symbols:
        path = next((p for p in (folder / f"{symbol}{s}" for s in FILE_SUFFIXES) if p.is_file()), None)
        coverage[symbol] = None if path is None else _date_range(path)
    return coverage


def _date_range(path: Path) -> tuple[date, date] | None:
    stat = path.stat()
    return _file_date_range(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)  # a form's hint asks again as the user types: read a file once per version
def _file_date_range(path: Path, _mtime_ns: int, _size: int) -> tuple[date, date] | None:
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            column = next((n for n in names if _column_name(n) == DATE_COLUMN), None)
            stamps = pd.read_parquet(path, columns=[column])[column] if column else None
        else:
            frame = pd.read_csv(path, usecols=lambda name: _column_name(name) == DATE_COLUMN)
            stamps = frame.iloc[:, 0] if frame.columns.size else None
        if stamps is None:
            raise DataSourceError(f"{path} has no date column")
        days = pd.to_datetime(stamps).dropna()
    except DataSourceError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many kinds for unreadable files
        raise DataSourceError(f"cannot read {path}: {exc}".splitlines()[0]) from exc
    return None if days.empty else (days.min().date(), days.max().date())
