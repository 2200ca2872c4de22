"""The monitoring wall: one tile per active or recently finished sweep, and each run's progress history."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import diskcache
from pydantic import BaseModel, Field

from airflow_backtest_framework.config import SweepConfig
from services.models import PointState, SweepRecord, SweepStatus
from services.registry import SweepRegistry

log = logging.getLogger(__name__)

RECENT = timedelta(hours=24)  # a finished run stays on the wall this long
HISTORY_MAX_POINTS = 240  # samples kept per run: a sparkline, and hours of coverage at 1/min
HISTORY_EXPIRE_S = 7 * 24 * 3600
ACTIVE_RUN_STATES = frozenset({"queued", "running", "restarting", "scheduled"})
STATE_FILTER_ALIASES = {"active": ACTIVE_RUN_STATES, "finished": frozenset({"success", "failed"})}


class StatusSource(Protocol):
    def status(self, config: SweepConfig, run_id: str | None = None) -> SweepStatus: ...


class HistoryPoint(BaseModel):
    """One fresh poll of a run: when, and how many points were done then."""

    at: datetime
    done: int


class WallTile(BaseModel):
    """What one tile of the wall shows about a sweep's latest run."""

    name: str
    dag_id: str
    owner: str
    strategy: str
    run_id: str | None = None
    run_state: str = "none"
    points_total: int = 0
    counts: dict[PointState, int] = Field(default_factory=dict)
    coverage: float = 0.0
    ended_at: datetime | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    failures: int = 0
    stale: bool = False
    stale_reason: str | None = None
    fetched_at: datetime
    history: list[HistoryPoint] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.run_state in ACTIVE_RUN_STATES


class WallFilter(BaseModel):
    """The URL's filters (`?owner=…&strategy=…&state=…`); empty fields match everything."""

    owner: str | None = None
    strategy: str | None = None
    state: str | None = None

    def matches_record(self, record: SweepRecord) -> bool:
        config = record.config
        if self.owner and config.owner.lower() != self.owner.lower():
            return False
        return not self.strategy or self.strategy.lower() in config.strategy.lower()

    def matches_tile(self, tile: WallTile) -> bool:
        if not self.state:
            return True
        wanted = self.state.lower()
        states = STATE_FILTER_ALIASES.get(wanted, frozenset({wanted}))
        return tile.run_state in states or (wanted == "stale" and tile.stale)


class WallService:
    """Tiles built from `monitor.status`, whose shared cache makes many walls cost one poll per sweep.

    The progress history of each run lives in `cache` (shared by every worker): a sample is
    appended when a status is fresher than the last sample, so concurrent walls add it once.
    """

    def __init__(
        self,
        registry: SweepRegistry,
        monitor: StatusSource,
        cache: diskcache.Cache,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        recent: timedelta = RECENT,
    ) -> None:
        self._registry = registry
        self._monitor = monitor
        self._cache = cache
        self._now = now
        self._recent = recent

    def tiles(self, wall_filter: WallFilter | None = None) -> list[WallTile]:
        """Tiles of every sweep with an active or recently finished run: active first, then newest."""
        wanted = wall_filter or WallFilter()
        tiles = []
        for record in self._registry.list():
            if not record.run_ids or not wanted.matches_record(record):
                continue
            tile = self.tile(record.config)
            if self._on_wall(tile) and wanted.matches_tile(tile):
                tiles.append(tile)
        return sorted(tiles, key=lambda t: (not t.active, -t.fetched_at.timestamp(), t.name))

    def tile(self, config: SweepConfig) -> WallTile:
        """One sweep's tile from its (cached) latest-run status, with the run's history."""
        status = self._monitor.status(config)
        counts = status.point_counts()
        run = status.run
        history = self.record(status) if run is not None else []
        return WallTile(
            name=config.name,
            dag_id=config.dag_id,
            owner=config.owner,
            strategy=config.strategy,
            run_id=run.run_id if run else None,
            run_state=run.state if run else "none",
            points_total=status.points_total,
            counts=counts,
            coverage=status.coverage,
            ended_at=run.end_date if run else None,
            elapsed_s=status.elapsed_s,
            eta_s=status.eta_s,
            failures=counts[PointState.FAILED],
            stale=status.stale,
            stale_reason=status.stale_reason,
            fetched_at=status.fetched_at,
            history=history,
        )

    def _on_wall(self, tile: WallTile) -> bool:
        if tile.run_id is None:
            return False
        if tile.active or tile.stale:
            return True
        return self._now() - (tile.ended_at or tile.fetched_at) <= self._recent

    # ---- history ------------------------------------------------------------------------------

    @staticmethod
    def _history_key(dag_id: str, run_id: str) -> str:
        return f"wall-history:{dag_id}:{run_id}"

    def record(self, status: SweepStatus) -> list[HistoryPoint]:
        """Append (fetched_at, done) when the status is a fresh poll newer than the last sample."""
        if status.run is None:
            return []
        key = self._history_key(status.dag_id, status.run.run_id)
        done = status.point_counts()[PointState.DONE]
        with self._cache.transact():
            raw = self._cache.get(key) or []
            last_at = datetime.fromisoformat(raw[-1][0]) if raw else None
            fresh = not status.stale and (last_at is None or status.fetched_at > last_at)
            moved = not raw or raw[-1][1] != done or status.run.state in ACTIVE_RUN_STATES
            if fresh and moved:  # a finished run adds no more samples
                raw = [*raw, (status.fetched_at.isoformat(), done)][-HISTORY_MAX_POINTS:]
                self._cache.set(key, raw, expire=HISTORY_EXPIRE_S)
        return [HistoryPoint(at=datetime.fromisoformat(at), done=count) for at, count in raw]

    def history(self, dag_id: str, run_id: str) -> list[HistoryPoint]:
        """The samples kept for one run (oldest first), for the managers' coverage and throughput charts."""
        raw = self._cache.get(self._history_key(dag_id, run_id)) or []
        return [HistoryPoint(at=datetime.fromisoformat(at), done=count) for at, count in raw]
