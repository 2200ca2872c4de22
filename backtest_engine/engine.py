"""Runs grid points of a sweep: one backtest per point, one result record per point."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.validation_spec import segments
from backtest_engine.data import MarketData
from backtest_engine.execution import Execution, fills
from backtest_engine.metrics import DailyReturns, evaluate, segment_metrics
from backtest_engine.positions import Book, Signals, simulate, simulate_many
from backtest_engine.strategies import build_strategy

logger = logging.getLogger(__name__)

ENGINE_VERSION = "2.0.0"  # 2: next-bar fills, intraday stops, costs in the spec, daily returns kept
EQUITY_MAX_POINTS = 260  # points of the stored equity curve (about one a week over five years)
EQUITY_DECIMALS = 2


class InjectedFailure(RuntimeError):
    """A point that fails on purpose (BACKTEST_FAIL_POINTS), to exercise failure handling."""


@dataclass(frozen=True, eq=False)
class PointResult:
    """The outcome of one grid point: its parameters, metrics and equity curve."""

    index: int
    params: dict[str, int | float]
    metrics: dict[str, float | int]
    dates: np.ndarray  # datetime64[D] (T,)
    equity: np.ndarray  # (T,)
    started_at: datetime
    finished_at: datetime
    returns: DailyReturns | None = None
    execution: dict[str, object] = field(default_factory=dict)  # fill, optimistic, stops, costs ...
    segments: dict[str, dict[str, float | str]] = field(default_factory=dict)  # validation segments' metrics

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def record(self, context: RunContext) -> dict[str, object]:
        """The JSON document of `points/<index>.json`."""
        return {
            "index": self.index,
            "params": self.params,
            "metrics": self.metrics,
            "strategy": context.strategy,
            "dag_id": context.dag_id,
            "run_id": context.run_id,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "engine_version": ENGINE_VERSION,
            "db_host": context.db_host,
            "data_source": context.data_source,
            "spec_hash": context.spec_hash,
            **self.execution,
            "segments": self.segments,
        }

    def returns_columns(self) -> dict[str, np.ndarray]:
        """This point's rows of its chunk's returns file (ec.RETURNS_COLUMNS), one per bar."""
        daily = self.returns
        if daily is None:
            raise ValueError(f"point {self.index} carries no daily returns")
        return {
            "point": np.full(self.dates.size, self.index, dtype=np.int64),
            "date": self.dates,
            "net_return": daily.net,
            "gross_return": daily.gross,
            "exposure": daily.exposure,
            "benchmark_return": daily.benchmark,
            "traded": daily.traded,
        }

    def equity_record(self, max_points: int = EQUITY_MAX_POINTS) -> dict[str, list]:
        """The JSON document of `equity/<index>.json`: the curve, down-sampled, last close included."""
        picks = np.unique(np.linspace(0, self.equity.size - 1, min(max_points, self.equity.size)).round())
        picks = picks.astype(np.int64)
        return {
            "dates": [str(day) for day in self.dates[picks]],
            "equity": [round(float(value), EQUITY_DECIMALS) for value in self.equity[picks]],
        }


@dataclass(frozen=True)
class RunContext:
    """Where results go and what they are stamped with."""

    strategy: str
    dag_id: str
    run_id: str
    db_host: str | None = None
    data_source: str = "synthetic"
    spec_hash: str = ""


@dataclass
class ChunkOutcome:
    """Indices written and indices failed (with the reason) of one chunk."""

    written: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


SignalCache = dict[tuple, Signals]
SIGNAL_CACHE_ENTRIES = 64  # signals kept per chunk (each a few int8/bool arrays of symbols × bars)


Walked = tuple[Signals, Book]  # a point's signals and trades, from a batch walked together
# Rows (points × symbols) walked together: each row is a few lanes of the walk's vectors.
BATCH_ROWS = 6_400
# Distinct signals of one walk, in symbols × bars × signals: each costs its lookup tables (~7 bytes a cell).
BATCH_SIGNAL_CELLS = 4_000_000


def run_point(
    config: SweepConfig,
    index: int,
    data: MarketData,
    signal_cache: SignalCache | None = None,
    walked: Walked | None = None,
) -> PointResult:
    """Backtest grid point `index` of the sweep on `data` (deterministic).

    Points that differ only in stop, take-profit or cooldown share their signals: pass one
    `signal_cache` for the points of a chunk to compute each once; `walked` hands in the point's
    signals and trades when `walk_together` found them with others.
    """
    started = datetime.now(UTC)
    params = config.point(index)
    execution = Execution.of(config, data)
    if walked is None:
        signals = _signals(build_strategy(config.strategy, params), data, config, signal_cache)
        book = simulate(data.log_close_by_symbol, signals, prices=execution.fill_prices(data))
    else:
        signals, book = walked
    trade_fills = fills(book, data, signals, execution)
    performance = evaluate(
        data, book, signals.position_weight, config.initial_capital, execution, trade_fills, config.benchmark
    )
    return PointResult(
        index=index,
        params=params,
        metrics=performance.metrics,
        dates=data.dates,
        equity=performance.equity,
        started_at=started,
        finished_at=datetime.now(UTC),
        returns=performance.returns,
        execution=point_settings(config, data, execution),
        segments=segment_metrics(
            performance.returns.net,
            data.dates,
            segments(config.validation, data.n_days),
            data.bars_per_year,
            config.risk_free_rate,
        ),
    )


def walk_together(
    config: SweepConfig, indices: Sequence[int], data: MarketData, signal_cache: SignalCache
) -> dict[int, Walked]:
    """The signals and trades of several points walked in one pass (each distinct signal computed once,
    through `signal_cache`, and its lookup tables built once for the points sharing it)."""
    strategies = [build_strategy(config.strategy, config.point(index)) for index in indices]
    batch = [_signals(strategy, data, config, signal_cache) for strategy in strategies]
    prices = Execution.of(config, data).fill_prices(data)
    books = simulate_many(data.log_close_by_symbol, batch, prices=prices)
    return {index: (signals, book) for index, signals, book in zip(indices, batch, books, strict=True)}


def _batches(config: SweepConfig, indices: Sequence[int], data: MarketData) -> dict[int, list[int]]:
    """Per index, the points of `indices` walked with it: points sharing their signal parameters
    together, at most BATCH_ROWS rows and BATCH_SIGNAL_CELLS signal cells."""
    spec = build_strategy(config.strategy, config.point(indices[0])) if indices else None
    groups: dict[tuple, list[int]] = {}
    for index in indices:
        params = config.point(index)
        groups.setdefault(tuple(params[name] for name in spec.signal_params), []).append(index)
    max_points = max(1, BATCH_ROWS // data.n_symbols)
    max_signals = max(1, BATCH_SIGNAL_CELLS // (data.n_symbols * data.n_days))
    batches: list[list[int]] = []
    signals = 0  # distinct signals in the last batch
    for members in groups.values():
        while members:
            if not batches or len(batches[-1]) >= max_points or signals >= max_signals:
                batches.append([])
                signals = 0
            taken = members[: max_points - len(batches[-1])]
            batches[-1].extend(taken)
            signals += 1
            members = members[len(taken) :]
    return {index: batch for batch in batches for index in batch}


def point_settings(config: SweepConfig, data: MarketData, execution: Execution) -> dict[str, object]:
    """What a point's result says about how it was computed (fills, costs, data), to read it honestly."""
    return {
        **execution.record(),
        "costs": {
            "commission_bps": config.commission_bps,
            "slippage_bps": config.slippage_bps,
            "borrow_bps": config.borrow_bps,
        },
        "risk_free_rate": config.risk_free_rate,
        "benchmark": config.benchmark,
        "frequency": data.frequency,
        "bars_per_year": data.bars_per_year,
        "synthetic": data.synthetic,
    }


def _signals(strategy, data: MarketData, config: SweepConfig, cache: SignalCache | None) -> Signals:
    """The strategy's signals, shared through `cache` by points with the same signal parameters."""
    if cache is None:
        return strategy.signals(data, config.factors)
    key = (strategy.name, *(strategy.params[name] for name in strategy.signal_params))
    cached = cache.get(key)
    if cached is None:
        if len(cache) >= SIGNAL_CACHE_ENTRIES:
            cache.pop(next(iter(cache)))
        cached = cache[key] = strategy.signals(data, config.factors)
    return strategy.with_risk_rules(cached)


def run_chunk(
    config: SweepConfig,
    start: int,
    count: int,
    data: MarketData,
    write: Callable[[PointResult], None],
    fail_points: Collection[int] = (),
) -> ChunkOutcome:
    """Run points [start, start + count) and hand each result to `write`; a failing point is
    logged and recorded, and the others still run."""
    outcome = ChunkOutcome()
    signal_cache: SignalCache = {}
    indices = [i for i in range(start, start + count) if i not in fail_points]
    batch_of = _batches(config, indices, data)
    walked: dict[int, Walked] = {}
    for index in range(start, start + count):
        clock = time.perf_counter()
        try:
            if index in fail_points:
                raise InjectedFailure(f"point {index} fails on purpose (BACKTEST_FAIL_POINTS)")
            if index not in walked:
                pending = [other for other in batch_of[index] if other >= index]
                walked.update(walk_together(config, pending, data, signal_cache))
            result = run_point(config, index, data, signal_cache, walked.pop(index))
            write(result)
        except InjectedFailure as exc:
            logger.error("point %d failed: %s", index, exc)
            outcome.failed[index] = str(exc)
        except Exception as exc:  # one bad point must not stop the chunk
            logger.exception("point %d failed", index)
            outcome.failed[index] = f"{type(exc).__name__}: {exc}"
        else:
            outcome.written.append(index)
            metrics = result.metrics
            logger.info(
                "point %d done in %.3fs: total_return=%.4f sharpe=%.3f max_drawdown=%.4f trades=%d",
                index,
                time.perf_counter() - clock,
                metrics["total_return"],
                metrics["sharpe"],
                metrics["max_drawdown"],
                metrics["trades"],
            )
    return outcome


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
