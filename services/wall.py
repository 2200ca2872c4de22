"""The monitoring wall: one tile per active or recently finished sweep, and each run's progress history."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, Field

from airflow_backtest_framework.config import SweepConfig
from services.airflow.models import RunState, RunStateField
from services.models import PointState, SweepRecord, SweepStatus
from services.result_labels import result_labels
from services.shared_cache import SharedCache

log = logging.getLogger(__name__)

RECENT = timedelta(hours=24)  # a finished run stays on the wall this long
HISTORY_MAX_POINTS = 240  # samples kept per run: a sparkline, and hours of coverage at 1/min
HISTORY_EXPIRE_S = 7 * 24 * 3600
# `?state=` words naming several run states; any other word names one RunState (or `stale`).
STATE_FILTER_ALIASES: dict[str, frozenset[RunState]] = {
    "active": frozenset(state for state in RunState if state.active),
    "finished": frozenset(state for state in RunState if state.finished),
}
STALE_FILTER = "stale"
# Sweeps polled at once: each poll mostly waits on Airflow and the results store, with one Airflow
# request in flight at a time, so 8 stay within requests' 10 pooled connections per host.
POLL_THREADS = 8
BOARD_WAIT_S = 0.1  # the wall starting a quick board rebuild waits this long for it, then shows the last one
BOARD_BEHIND_PERIODS = 3  # a board this many periods old is rebuilt before a wall shows it
BOARD_EXPIRE_S = 24 * 3600
HISTORY_LOCK_EXPIRE_S = 10  # a read and a write; a holder that died frees it after this
BUILD_LOCK_EXPIRE_S = 120  # a rebuild whose worker died frees its lock after this
OUTAGE_KEY = "wall-outage-since"  # when a board first found Airflow not answering (shared by every worker)
OUTAGE_EXPIRE_S = 7 * 24 * 3600
UNRECORDED_RUNS_S = 10  # how long the list of deployed sweeps with runs started elsewhere is kept


class LatestRuns(Protocol):
    def __call__(self, configs: Sequence[SweepConfig]) -> Mapping[str, object]: ...


class SavedSweeps(Protocol):
    """What the wall reads of the registry (services.ports.SweepStore)."""

    def list(self) -> list[SweepRecord]: ...


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
    run_state: RunStateField = RunState.NONE
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
    labels: list[str] = Field(default_factory=list)  # services.result_labels keys, from the spec

    @property
    def active(self) -> bool:
        return self.run_state.active


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
        wanted = self.state.strip().lower()
        if wanted == STALE_FILTER:
            return tile.stale
        states = STATE_FILTER_ALIASES.get(wanted) or frozenset(s for s in RunState if s.value == wanted)
        return tile.run_state in states


class WallOutage(BaseModel):
    """Airflow did not answer the wall's polls: since when (first seen by a board), why, and how many
    tiles show old data or none."""

    since: datetime
    reason: str
    stale_tiles: int


class WallBoard(BaseModel):
    """All tiles of one wall filter's sweeps, as built in one refresh period (shared by every wall)."""

    period: int  # epoch seconds // the period's length
    built_at: datetime
    build_s: float = 0.0  # how long the rebuild took
    tiles: list[WallTile]
    outage: WallOutage | None = None


class WallView(BaseModel):
    """What a wall shows: its tiles, and the outage that keeps them from being fresh (None when none).
    A wall with no tiles and an outage does not know what runs: it must not say "nothing runs"."""

    tiles: list[WallTile]
    outage: WallOutage | None = None


class WallService:
    """Tiles built from `monitor.status`, whose shared cache makes many walls cost one poll per sweep.

    The progress history of each run lives in `cache` (shared by every worker): a sample is
    appended when a status is fresher than the last sample, so concurrent walls add it once. The
    boards the wall page shows (`board`) live there too.
    """

    def __init__(
        self,
        registry: SavedSweeps,
        monitor: StatusSource,
        cache: SharedCache,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        recent: timedelta = RECENT,
        latest_runs: LatestRuns | None = None,
    ) -> None:
        self._registry = registry
        self._monitor = monitor
        self._latest_runs = latest_runs
        self._cache = cache
        self._now = now
        self._recent = recent
        self._boards: dict[str, tuple[tuple[int, str], WallBoard]] = {}  # the last board parsed, per key

    def tiles(self, wall_filter: WallFilter | None = None) -> list[WallTile]:
        """Tiles of every sweep with an active or recently finished run: active first, then newest.

        The sweeps' statuses are fetched POLL_THREADS at a time (each a cached status or one poll).
        """
        wanted = wall_filter or WallFilter()
        records = [r for r in self._registry.list() if wanted.matches_record(r)]
        elsewhere = self._run_elsewhere([r.config for r in records if not r.run_ids and r.deployed_hash])
        configs = [r.config for r in records if r.run_ids or r.name in elsewhere]
        with ThreadPoolExecutor(max_workers=POLL_THREADS, thread_name_prefix="wall-poll") as pool:
            candidates = list(pool.map(self.tile, configs))
        tiles = [tile for tile in candidates if self._on_wall(tile) and wanted.matches_tile(tile)]
        return sorted(tiles, key=lambda t: (not t.active, -t.fetched_at.timestamp(), t.name))

    def _run_elsewhere(self, configs: list[SweepConfig]) -> set[str]:
        """Names of deployed sweeps this app never triggered that have a run in Airflow (started from its
        UI, the REST API or a schedule): one batch lookup, shared for UNRECORDED_RUNS_S by every wall."""
        if not configs or self._latest_runs is None:
            return set()
        key = "wall-unrecorded-runs:" + ",".join(sorted(c.name for c in configs))
        cached = self._cache.get(key)
        if cached is not None:
            return set(cached)
        try:
            names = set(self._latest_runs(configs))
        except Exception as exc:  # Airflow down: the tiles of recorded runs still show, marked stale
            log.info("runs of deployed sweeps unavailable: %s", exc)
            return set()
        self._cache.set(key, sorted(names), expire=UNRECORDED_RUNS_S)
        return names

    # ---- the board every wall shows ---------------------------------------------------------------

    def board(self, wall_filter: WallFilter | None = None, *, period_s: float) -> list[WallTile]:
        """The tiles of `view` (see there)."""
        return self.view(wall_filter, period_s=period_s).tiles

    def view(self, wall_filter: WallFilter | None = None, *, period_s: float) -> WallView:
        """The tiles a wall shows and the outage behind stale ones, from a board shared by every wall
        and worker and rebuilt at most once per refresh period (`period_s`, aligned to the clock):
        many walls cost the upstream APIs what one wall costs, and a refresh never waits for a whole
        round of polls.

        The first wall asking in a new period starts the rebuild in the background, waits for it when
        the last one took at most BOARD_WAIT_S, and until it is done, walls get the previous period's
        board (so a wall of many sweeps shows data one period older than the poll). A board more than
        BOARD_BEHIND_PERIODS old (nobody was watching) is rebuilt before answering. The state filter
        applies to the board's tiles, so walls that differ only by it share a board.
        """
        wanted = wall_filter or WallFilter()
        key = self._board_key(wanted)
        period = int(self._now().timestamp() // period_s)
        board = self._load_board(key)
        if board is None:
            board = self._build_board(key, wanted, period)
        elif board.period < period:
            done = self._start_build(key, wanted, period)
            if board.period < period - BOARD_BEHIND_PERIODS:  # nobody was watching: not worth showing
                wait = BUILD_LOCK_EXPIRE_S
            else:
                wait = BOARD_WAIT_S if board.build_s <= BOARD_WAIT_S else 0.0
            if done is not None and done.wait(wait):
                board = self._load_board(key) or board
        return WallView(
            tiles=[tile for tile in board.tiles if wanted.matches_tile(tile)], outage=board.outage
        )

    @staticmethod
    def _board_key(wanted: WallFilter) -> str:
        return f"wall-board:{(wanted.owner or '').lower()}:{(wanted.strategy or '').lower()}"

    def _load_board(self, key: str) -> WallBoard | None:
        """The stored board; parsed once per process per rebuild (a board of 50 tiles is ~0.5 MB)."""
        stored = self._cache.get(key)
        if stored is None:
            return None
        stamp, text = (stored[0], stored[1]), stored[2]
        seen = self._boards.get(key)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        board = WallBoard.model_validate_json(text)
        self._boards[key] = (stamp, board)
        return board

    def _build_board(self, key: str, wanted: WallFilter, period: int) -> WallBoard:
        board_filter = wanted.model_copy(update={"state": None})
        started = time.perf_counter()
        tiles = self.tiles(board_filter)
        board = WallBoard(
            period=period,
            built_at=self._now(),
            build_s=time.perf_counter() - started,
            tiles=tiles,
            outage=self._outage(tiles),
        )
        stored = (board.period, board.built_at.isoformat(), board.model_dump_json())
        self._cache.set(key, stored, expire=BOARD_EXPIRE_S)
        self._boards[key] = ((stored[0], stored[1]), board)
        return board

    def _outage(self, tiles: list[WallTile]) -> WallOutage | None:
        """The outage behind the stale tiles, dated from the first board that saw it; None if none."""
        stale = [tile for tile in tiles if tile.stale]
        if not stale:
            self._cache.delete(OUTAGE_KEY)
            return None
        self._cache.add(OUTAGE_KEY, self._now().isoformat(), expire=OUTAGE_EXPIRE_S)
        since = self._cache.get(OUTAGE_KEY)
        reason = next((tile.stale_reason for tile in stale if tile.stale_reason), "Airflow did not answer")
        return WallOutage(
            since=datetime.fromisoformat(since) if since else self._now(),
            reason=reason,
            stale_tiles=len(stale),
        )

    def _start_build(self, key: str, wanted: WallFilter, period: int) -> threading.Event | None:
        """Rebuild the board in a background thread unless another thread or worker is at it."""
        lock = f"{key}:building"
        if not self._cache.add(lock, period, expire=BUILD_LOCK_EXPIRE_S):
            return None
        done = threading.Event()

        def build() -> None:
            try:
                current = self._load_board(key)
                if current is None or current.period < period:  # not rebuilt while we got the lock
                    self._build_board(key, wanted, period)
            except Exception:  # the walls keep the last board; the next period tries again
                log.exception("wall board %s not rebuilt", key)
            finally:
                self._cache.delete(lock)
                done.set()

        threading.Thread(target=build, name="wall-board", daemon=True).start()
        return done

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
            labels=[label.key for label in result_labels(config)],  # the spec's: no result read per tile
            run_id=run.run_id if run else None,
            run_state=run.state if run else (RunState.UNKNOWN if status.stale else RunState.NONE),
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
        """Active, recently finished, or stale: a sweep that ran and whose status Airflow did not give
        stays on the wall (as unknown), so an outage never reads as "nothing runs"."""
        if tile.stale:
            return True
        if tile.run_id is None:
            return False
        if tile.active:
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
        with self._cache.lock(f"{key}:lock", HISTORY_LOCK_EXPIRE_S):  # every host appends in turn
            raw = self._cache.get(key) or []
            last_at = datetime.fromisoformat(raw[-1][0]) if raw else None
            fresh = not status.stale and (last_at is None or status.fetched_at > last_at)
            moved = not raw or raw[-1][1] != done or status.run.state.active
            if fresh and moved:  # a finished run adds no more samples
                raw = [*raw, (status.fetched_at.isoformat(), done)][-HISTORY_MAX_POINTS:]
                self._cache.set(key, raw, expire=HISTORY_EXPIRE_S)
        return [HistoryPoint(at=datetime.fromisoformat(at), done=count) for at, count in raw]

    def history(self, dag_id: str, run_id: str) -> list[HistoryPoint]:
        """The samples kept for one run (oldest first), for the managers' coverage and throughput charts."""
        raw = self._cache.get(self._history_key(dag_id, run_id)) or []
        return [HistoryPoint(at=datetime.fromisoformat(at), done=count) for at, count in raw]
