"""What a walk reads and writes: a strategy's signals, the fill prices of the spec, the trades made."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

SCAN_BLOCK_DAYS = 16  # days of prices gathered per trade and scan step of the stop search


@dataclass(frozen=True, eq=False)
class Signals:
    """What a strategy wants, per symbol and day (arrays are symbols × dates); decisions at the close.

    `entry` is +1 (open long), -1 (open short) or 0, acted on only when the symbol is flat and
    out of cooldown. `exit_long` / `exit_short` close an open position of that side. A trade
    opened at close e and closed at close x earns the returns of days e+1 .. x.
    """

    entry: np.ndarray  # int8 (N, T)
    exit_long: np.ndarray  # bool (N, T)
    exit_short: np.ndarray  # bool (N, T)
    position_weight: float  # fraction of capital per open position
    stop_loss: float  # exit after this loss (fraction of the entry price)
    take_profit: float | None  # exit after this gain; None: no take-profit
    signal_cooldown: int  # days after a signal exit before the symbol may be entered again
    risk_cooldown: int  # days after a stop-loss/take-profit exit (0 is read as 1: never the same close)


@dataclass(frozen=True, eq=False)
class FillPrices:
    """Where a trade's levels come from, as log prices symbols × dates (the close for all: same-close fills).

    `entry[i, e]` is the price an entry decided at close e fills at; stops compare `low` (longs) and
    `high` (shorts) with the stop level, take-profits the other extreme. Stops are watched from
    `first_watch` bars after the decision, and up to `exit_lag` bars after a signal exit's decision
    (until that exit fills). `entry_allowed` masks decisions whose fill would fall outside the
    symbol's quoted range.
    """

    entry: np.ndarray
    low: np.ndarray
    high: np.ndarray
    first_watch: int = 1
    exit_lag: int = 0
    entry_allowed: np.ndarray | None = None

    @property
    def short_offset(self) -> int:
        """Where shorts' prices start in the signed arrays: rows padded by one scan block (scans may
        read past a row's end and discard what they read)."""
        return self.entry.size + SCAN_BLOCK_DAYS

    @cached_property
    def signed_entry(self) -> np.ndarray:
        return self._signed(self.entry, self.entry)

    @cached_property
    def adverse(self) -> np.ndarray:
        """What a stop-loss watches: lows for longs, negated highs for shorts."""
        return self._signed(self.low, self.high)

    @cached_property
    def favourable(self) -> np.ndarray:
        """What a take-profit watches: highs for longs, negated lows for shorts."""
        return self.adverse if self.high is self.low else self._signed(self.high, self.low)

    @cached_property
    def adverse_floor(self) -> np.ndarray:
        """At each position of `adverse`, the lowest of the SCAN_BLOCK_DAYS prices starting there: a
        block without a stop is ruled out with one lookup instead of a scan."""
        return _block_extreme(self.adverse, np.minimum)

    @cached_property
    def favourable_ceiling(self) -> np.ndarray:
        """At each position of `favourable`, the highest of the SCAN_BLOCK_DAYS prices starting there."""
        return _block_extreme(self.favourable, np.maximum)

    def _signed(self, long_side: np.ndarray, short_side: np.ndarray) -> np.ndarray:
        """Longs' prices, then shorts' negated prices, each padded by one scan block."""
        cells = self.entry.size
        signed = np.zeros(2 * self.short_offset)
        signed[:cells] = long_side.ravel()
        np.negative(short_side.ravel(), out=signed[self.short_offset : self.short_offset + cells])
        return signed


def _block_extreme(values: np.ndarray, pick: np.ufunc) -> np.ndarray:
    """pick (np.minimum / np.maximum) over each run of SCAN_BLOCK_DAYS values: len - SCAN_BLOCK_DAYS + 1
    results, by doubling (a few passes, not one per day)."""
    extreme, covered = values, 1
    while covered < SCAN_BLOCK_DAYS:
        step = min(covered, SCAN_BLOCK_DAYS - covered)
        extreme = pick(extreme[:-step], extreme[step:])  # now covers covered + step values
        covered += step
    return extreme


@dataclass(frozen=True, eq=False)
class Book:
    """The trades of a backtest, sorted by symbol then entry day."""

    n_symbols: int
    n_days: int
    symbol: np.ndarray  # int64 (K,)
    entry: np.ndarray  # int64 (K,): day index of the entry close
    exit: np.ndarray  # int64 (K,): day index of the exit close; n_days when still open at the end
    direction: np.ndarray  # int8 (K,): +1 long, -1 short
    risk_exit: np.ndarray  # bool (K,): closed by stop-loss or take-profit

    @property
    def trade_count(self) -> int:
        return int(self.symbol.size)

    def positions(self) -> np.ndarray:
        """Direction held from each close to the next, int8 (N, T)."""
        held = np.zeros(self.n_symbols * self.n_days, dtype=np.int8)
        if not self.trade_count:
            return held.reshape(self.n_symbols, self.n_days)
        # Trades are disjoint and sorted per symbol: fill the flat array by runs.
        row = self.symbol * self.n_days
        starts = row + self.entry
        ends = row + np.minimum(self.exit, self.n_days)
        bounds = np.empty(2 * starts.size + 1, dtype=np.int64)
        bounds[0] = 0
        bounds[1::2] = starts
        bounds[2::2] = ends
        values = np.zeros(2 * starts.size + 1, dtype=np.int8)
        values[1::2] = self.direction
        lengths = np.diff(np.append(bounds, held.size))
        return np.repeat(values, lengths).reshape(self.n_symbols, self.n_days)
