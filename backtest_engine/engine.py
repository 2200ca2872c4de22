"""Runs grid points of a sweep: one backtest per point, one result record per point."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from airflow_backtest_framework.config import SweepConfig
from backtest_engine.data import MarketData
from backtest_engine.metrics import evaluate
from backtest_engine.positions import simulate
from backtest_engine.strategies import build_strategy

logger = logging.getLogger(__name__)

ENGINE_VERSION = "1.0.0"
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


def run_point(config: SweepConfig, index: int, data: MarketData) -> PointResult:
    """Backtest grid point `index` of the sweep on `data` (deterministic)."""
    started = datetime.now(UTC)
    params = config.point(index)
    strategy = build_strategy(config.strategy, params)
    signals = strategy.signals(data, config.factors)
    book = simulate(data.log_close_by_symbol, signals)
    performance = evaluate(data, book, signals.position_weight, config.initial_capital)
    return PointResult(
        index=index,
        params=params,
        metrics=performance.metrics,
        dates=data.dates,
        equity=performance.equity,
        started_at=started,
        finished_at=datetime.now(UTC),
    )


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
    for index in range(start, start + count):
        clock = time.perf_counter()
        try:
            if index in fail_points:
                raise InjectedFailure(f"point {index} fails on purpose (BACKTEST_FAIL_POINTS)")
            result = run_point(config, index, data)
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
