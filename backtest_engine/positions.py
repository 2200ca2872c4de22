"""Turns entry/exit signals into trades (signal exits, stop-loss, take-profit, cooldowns) for every strategy.

The walk is event-driven and vectorised: one loop iteration opens and closes the next trade of
every *lane* at once, so the loop runs about as often as the busiest lane trades, never once per
day. A row is one symbol under one point's signals and risk rules (the points of a chunk are walked
together, whatever their signals); a lane is one row over one of up to PIECES stretches of time.
Each piece is first walked as if the symbol were flat and free at its start; then the pieces are
stitched in order: where the true state entering a piece differs (a trade or cooldown runs over
the border), the walk is redone from the true state until it reaches an entry of the speculative
walk, after which both agree (a trade depends only on its entry day). The result equals a plain
day-by-day simulation. Next entries and exits are looked up in per-signal tables, and a stop or
take-profit scan reads one precomputed extreme per block of SCAN_BLOCK_DAYS before any single bar.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from backtest_engine.book import SCAN_BLOCK_DAYS, Book, FillPrices, Signals

PIECES = 8  # speculative stretches of time per symbol, at most
# Lanes a walk aims at: with many rows (points × symbols walked together) fewer pieces suffice to keep
# the loop's vectors long, and each piece fewer means less stitching.
WALK_LANES = 8_192
# A move of exactly the stop-loss or take-profit triggers it, whatever the rounding of logarithms.
LEVEL_TOLERANCE = 1e-12


def _next_event(mask: np.ndarray) -> np.ndarray:
    """Flat table of rows × (T + 1): at row * (T + 1) + d, the first day >= d (<= T) whose cell of
    `mask` is True; T when there is none. One pass per walk replaces a search per lookup."""
    rows, days = mask.shape
    day_type = np.int16 if days < np.iinfo(np.int16).max else np.int32  # half the memory traffic
    table = np.empty((rows, days + 1), dtype=day_type)
    table[:, days] = days
    # day where the mask is set, else T: (day - T) * mask + T (faster than a masked assignment)
    np.multiply(mask, np.arange(-days, 0, dtype=day_type), out=table[:, :days])
    table[:, :days] += day_type(days)
    np.minimum.accumulate(table[:, ::-1], axis=1, out=table[:, ::-1])
    return table.ravel()


def _distinct_signals(batch: Sequence[Signals]) -> tuple[list[Signals], np.ndarray]:
    """The signals of `batch` with distinct entry/exit arrays, and the index among them of each."""
    position: dict[tuple[int, int, int], int] = {}
    distinct: list[Signals] = []
    copy_of = []
    for signals in batch:
        key = (id(signals.entry), id(signals.exit_long), id(signals.exit_short))
        if key not in position:
            position[key] = len(distinct)
            distinct.append(signals)
        copy_of.append(position[key])
    return distinct, np.asarray(copy_of, dtype=np.int64)


class _Walker:
    """Next-entry lookups and single-trade resolution, vectorised over lanes.

    Prices are kept twice, as log closes for longs and negated log closes for shorts, so that a
    stop-loss is always "signed price <= entry + stop offset" and a take-profit "signed price >=
    entry + profit offset", whatever the side.
    """

    def __init__(
        self, log_close: np.ndarray, batch: Sequence[Signals], prices: FillPrices | None = None
    ) -> None:
        """Walk every signals of `batch` at once: row k * N + i of the walk is symbol i under batch[k].
        Signals that share their entry and exit arrays (points differing only in stops and cooldowns)
        share one copy of the lookup tables."""
        self.n_prices, self.n_days = log_close.shape
        self.n_symbols = len(batch) * self.n_prices  # rows of the walk
        prices = prices or FillPrices(log_close, log_close, log_close)
        self.short_prices = prices.short_offset
        self.signed_entry = prices.signed_entry
        # Every block of SCAN_BLOCK_DAYS consecutive signed prices, as rows of a view (no copy): a
        # scan step gathers one row per trade instead of one index per price, and only for trades
        # whose block's extreme shows a crossing.
        self.adverse = sliding_window_view(prices.adverse, SCAN_BLOCK_DAYS)
        self.favourable = sliding_window_view(prices.favourable, SCAN_BLOCK_DAYS)
        self.adverse_floor = prices.adverse_floor
        self.favourable_ceiling = prices.favourable_ceiling
        self.first_watch = prices.first_watch
        self.exit_lag = prices.exit_lag
        distinct, copy_of = _distinct_signals(batch)
        # Row of the walk -> row of the stacked signals (distinct signals × symbols).
        signal_row = (np.repeat(copy_of, self.n_prices) * self.n_prices) + np.tile(
            np.arange(self.n_prices), len(batch)
        )
        entries = np.stack([signals.entry for signals in distinct]).astype(np.int8, copy=False)
        if prices.entry_allowed is not None:
            entries = np.where(prices.entry_allowed, entries, 0).astype(np.int8, copy=False)
        self.entry = np.ascontiguousarray(entries).ravel()
        self.next_entries = _next_event(self.entry.reshape(-1, self.n_days) != 0)
        exits = [signals.exit_long for signals in distinct] + [signals.exit_short for signals in distinct]
        self.next_exits = _next_event(np.concatenate(exits))
        # Short exits live in the rows after every signals' long exits.
        self.short_exits = len(distinct) * self.n_prices * (self.n_days + 1)

        # Per row of the walk: where its cells start in the entries, the event tables and the prices.
        self.entry_base = signal_row * self.n_days
        self.event_base = signal_row * (self.n_days + 1)
        self.price_base = np.tile(np.arange(self.n_prices) * self.n_days, len(batch))
        self._risk_rules(batch)

    def _risk_rules(self, batch: Sequence[Signals]) -> None:
        """Per row of the walk, its point's stop and take-profit offsets and cooldowns."""

        def per_row(*sides: list[float]) -> np.ndarray:
            """Per row, the value of its point, for each side (long/short, signal/risk) in turn."""
            return np.concatenate(
                [np.repeat(np.asarray(side, dtype=np.float64), self.n_prices) for side in sides]
            )

        stops = [s.stop_loss for s in batch]
        self.stop_offset = per_row(  # indexed by row + short * rows
            [float(np.log1p(-stop)) + LEVEL_TOLERANCE for stop in stops],
            [float(-np.log1p(stop)) + LEVEL_TOLERANCE for stop in stops],
        )
        profits = [s.take_profit for s in batch]
        self.has_profit_target = any(profit is not None for profit in profits)
        self.profit_offset = per_row(
            [np.inf if p is None else float(np.log1p(p)) - LEVEL_TOLERANCE for p in profits],
            [np.inf if p is None or p >= 1.0 else float(-np.log1p(-p)) - LEVEL_TOLERANCE for p in profits],
        )
        self.cooldown = per_row(  # indexed by row + risk exit * rows
            [s.signal_cooldown for s in batch], [max(s.risk_cooldown, 1) for s in batch]
        ).astype(np.int64)

    def next_entry(self, symbol: np.ndarray, resume: np.ndarray) -> np.ndarray:
        """First entry day >= resume (<= T) of each lane; T when there is none."""
        return self.next_entries[self.event_base[symbol] + resume].astype(np.int64)

    def trade(self, symbol: np.ndarray, entry: np.ndarray) -> tuple[np.ndarray, ...]:
        """Exit day, direction, risk-exit flag and resume day of a trade entered on `entry`."""
        n_days = self.n_days
        direction = self.entry[self.entry_base[symbol] + entry]
        short = direction < 0
        signal_exit = self.next_exits[self.event_base[symbol] + (short * self.short_exits + 1) + entry]
        signal_exit = signal_exit.astype(np.int64)
        # Every copy of a symbol shares its prices; shorts' signed prices follow the longs'.
        cell = self.price_base[symbol] + entry + short * self.short_prices
        level = self.signed_entry[cell]
        side = symbol + short * self.n_symbols
        stop = level + self.stop_offset[side]
        profit = level + self.profit_offset[side] if self.has_profit_target else None
        # Bars to watch after the entry decision: until the signal exit fills.
        span = np.minimum(signal_exit + self.exit_lag, n_days - 1) - entry
        hit = entry + self._days_to_crossing(cell, span, stop, profit)
        by_risk = hit < n_days
        exit_day = np.where(by_risk, hit, signal_exit)
        resume = np.minimum(exit_day + self.cooldown[symbol + by_risk * self.n_symbols], n_days)
        return exit_day, direction, by_risk, resume

    def _days_to_crossing(
        self, cell: np.ndarray, span: np.ndarray, stop: np.ndarray, profit: np.ndarray | None
    ) -> np.ndarray:
        """Per lane, days from the entry `cell` to the first signed price at or beyond a level within
        `span` days; T when there is none (so that entry + result >= T)."""
        hit = np.full(cell.size, self.n_days, dtype=np.int64)
        pending = np.arange(cell.size)
        offset = self.first_watch  # bars after the entry decision where this block starts (all lanes)
        while pending.size:
            window = cell + offset  # first price of each pending trade's block
            maybe = self.adverse_floor[window] <= stop
            if profit is not None:
                maybe |= self.favourable_ceiling[window] >= profit
            found = np.zeros(pending.size, dtype=bool)
            crossing = np.flatnonzero(maybe)  # the block holds a crossing: find its first day
            if crossing.size:
                crossed = self.adverse[window[crossing]] <= stop[crossing, None]
                if profit is not None:
                    crossed |= self.favourable[window[crossing]] >= profit[crossing, None]
                day = offset + crossed.argmax(axis=1)
                # The earliest crossing of the block counts only if it lies within the span.
                within = day <= span[crossing]
                found[crossing[within]] = True
                hit[pending[crossing[within]]] = day[within]
            offset += SCAN_BLOCK_DAYS
            more = ~found & (offset <= span)
            if more.all():
                continue
            pending, cell, span, stop = pending[more], cell[more], span[more], stop[more]
            profit = None if profit is None else profit[more]
        return hit


class _Trades:
    """Trades collected during the walk (lane, entry, exit, direction, risk exit), as lists of
    per-iteration arrays."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, lane: np.ndarray, entry: np.ndarray, *rest: np.ndarray) -> None:
        self.parts.append((lane, entry, *rest))

    def columns(self, count: int = 5) -> list[np.ndarray]:
        if not self.parts:
            return [np.zeros(0, dtype=np.int64) for _ in range(count)]
        return [np.concatenate(column) for column in zip(*self.parts, strict=True)]


def simulate(
    log_close: np.ndarray, signals: Signals, pieces: int | None = None, prices: FillPrices | None = None
) -> Book:
    """All trades of every symbol (log_close is symbols × days); see the module docstring.

    Book.exit is the bar of the exit decision (signal exits) or of the stop/take-profit trigger.
    """
    return simulate_many(log_close, [signals], pieces, prices)[0]


def simulate_many(
    log_close: np.ndarray,
    batch: Sequence[Signals],
    pieces: int | None = None,
    prices: FillPrices | None = None,
) -> list[Book]:
    """`simulate` for several signals (points of a grid) walked together: one book per signals.
    Signals sharing their entry and exit arrays (the same objects) share their lookup tables."""
    walker = _Walker(log_close, batch, prices)
    rows = _walk_rows(walker, pieces)
    n_prices = walker.n_prices
    # Rows are sorted by row of the walk: each copy's trades are one slice.
    bounds = rows.symbol.searchsorted(np.arange(len(batch) + 1) * n_prices)
    books = []
    for copy in range(len(batch)):
        mine = slice(bounds[copy], bounds[copy + 1])
        books.append(
            Book(
                n_symbols=n_prices,
                n_days=rows.n_days,
                symbol=rows.symbol[mine] - copy * n_prices,
                entry=rows.entry[mine],
                exit=rows.exit[mine],
                direction=rows.direction[mine],
                risk_exit=rows.risk_exit[mine],
            )
        )
    return books


def _walk_rows(walker: _Walker, pieces: int) -> Book:
    """Every trade of every row of the walk, sorted by row then entry day."""
    n_symbols, n_days = walker.n_symbols, walker.n_days
    if pieces is None:
        pieces = min(PIECES, -(-WALK_LANES // n_symbols))  # n_symbols: rows of the walk
    pieces = max(1, min(pieces, n_days // 2))
    # Entries on the last close could earn nothing: the last border is T - 1.
    borders = np.linspace(0, n_days - 1, pieces + 1).round().astype(np.int64)

    lanes = np.arange(n_symbols * pieces, dtype=np.int64)  # lane = symbol * pieces + piece
    piece_of = lanes % pieces
    speculative = _Trades()
    final_resume = _walk(
        walker, lanes, lanes // pieces, borders[piece_of], borders[piece_of + 1], speculative
    )
    lane, entry, exit_day, direction, by_risk = speculative.columns()
    # Speculative trades of a lane are valid from this entry day on (0: all of them).
    valid_from = np.zeros(n_symbols * pieces, dtype=np.int64)
    corrected = _Trades()
    if pieces > 1:
        spec_keys = (lane * (n_days + 1) + entry)[_by_lane(lane, n_symbols * pieces)]  # sorted, for lookups
        true_resume = final_resume[np.arange(n_symbols) * pieces]
        for piece in range(1, pieces):
            true_resume = _stitch(
                walker, piece, pieces, borders, true_resume, final_resume, spec_keys, valid_from, corrected
            )
    keep = np.flatnonzero(entry >= valid_from[lane])
    # In a lane, the corrected trades end before its kept speculative ones begin, and each set is in
    # entry order: put them first, and a stable sort by lane orders every trade by row, then entry.
    extra = corrected.columns()
    lane = np.concatenate([extra[0], lane[keep]])
    order = _by_lane(lane, n_symbols * pieces)
    picks = np.concatenate([np.arange(extra[0].size), extra[0].size + keep])[order]

    def ordered(position: int, column: np.ndarray, dtype: type) -> np.ndarray:
        return np.concatenate([extra[position], column])[picks].astype(dtype, copy=False)

    return Book(
        n_symbols=n_symbols,
        n_days=n_days,
        symbol=lane[order] // pieces,
        entry=ordered(1, entry, np.int64),
        exit=ordered(2, exit_day, np.int64),
        direction=ordered(3, direction, np.int8),
        risk_exit=ordered(4, by_risk, bool),
    )


def _by_lane(lane: np.ndarray, n_lanes: int) -> np.ndarray:
    """The stable order of trades by lane (a radix sort while lane numbers fit in 16 bits)."""
    return np.argsort(lane.astype(np.uint16) if n_lanes <= 1 << 16 else lane, kind="stable")


def _walk(
    walker: _Walker,
    lanes: np.ndarray,
    symbol: np.ndarray,
    resume: np.ndarray,
    limit: np.ndarray,
    trades: _Trades,
) -> np.ndarray:
    """Walk each lane from `resume`, trading entries before `limit`; returns every lane's final resume."""
    final = np.full(lanes.size, walker.n_days, dtype=np.int64)
    position = np.arange(lanes.size)
    while position.size:
        entry = walker.next_entry(symbol, resume)
        done = entry >= limit
        if done.any():
            final[position[done]] = resume[done]
            going = ~done
            position, lanes, symbol, entry, limit = (
                x[going] for x in (position, lanes, symbol, entry, limit)
            )
            if not position.size:
                break
        exit_day, direction, by_risk, resume = walker.trade(symbol, entry)
        trades.add(lanes, entry, exit_day, direction, by_risk)
        ended = exit_day >= walker.n_days  # open at the end: nothing follows
        if ended.any():
            going = ~ended
            position, lanes, symbol, limit, resume = (
                x[going] for x in (position, lanes, symbol, limit, resume)
            )
    return final


def _stitch(
    walker: _Walker,
    piece: int,
    pieces: int,
    borders: np.ndarray,
    true_resume: np.ndarray,
    final_resume: np.ndarray,
    spec_keys: np.ndarray,
    valid_from: np.ndarray,
    corrected: _Trades,
) -> np.ndarray:
    """Bring the true state through `piece`; returns the true resume day entering the next piece."""
    n_days = walker.n_days
    start, limit = borders[piece], borders[piece + 1]
    lanes_here = np.arange(true_resume.size) * pieces + piece
    exact = true_resume <= start  # flat and free at the border: the speculative walk is the truth
    next_resume = np.where(exact, final_resume[lanes_here], true_resume)
    symbol = np.flatnonzero(~exact)
    resume = true_resume[symbol]
    while symbol.size:
        lane = lanes_here[symbol]
        entry = walker.next_entry(symbol, resume)
        beyond = entry >= limit
        key = lane * (n_days + 1) + entry
        found = np.minimum(spec_keys.searchsorted(key), spec_keys.size - 1)
        synced = ~beyond & (spec_keys[found] == key) if spec_keys.size else np.zeros_like(beyond)
        # Lanes that never meet the speculative walk keep none of its trades.
        valid_from[lane[beyond]] = n_days + 1
        next_resume[symbol[beyond]] = resume[beyond]
        valid_from[lane[synced]] = entry[synced]
        next_resume[symbol[synced]] = final_resume[lane[synced]]
        walking = ~(beyond | synced)
        symbol, lane, entry = symbol[walking], lane[walking], entry[walking]
        if not symbol.size:
            break
        exit_day, direction, by_risk, resume = walker.trade(symbol, entry)
        corrected.add(lane, entry, exit_day, direction, by_risk)
        ended = exit_day >= n_days
        if ended.any():
            valid_from[lane[ended]] = n_days + 1
            next_resume[symbol[ended]] = n_days
            going = ~ended
            symbol, resume = symbol[going], resume[going]
    return next_resume
