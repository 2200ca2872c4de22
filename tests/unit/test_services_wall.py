"""The wall: tiles from the shared status cache, URL filters, stale tiles, and the bounded history."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import diskcache
import pytest

from airflow_backtest_framework.engine_contract import point_key
from bench.fake_airflow import FakeDagsFolderAirflow
from services.airflow.client import AirflowClient
from services.airflow.models import RunState
from services.airflow.transport import ApiRequest, ApiResponse
from services.clock import Clock
from services.deploy import DeployService
from services.models import PointState
from services.monitoring import MonitorService
from services.registry import SweepRegistry
from services.results import ResultsService
from services.runs import RunService
from services.shared_cache import DiskSharedCache
from services.storage import LocalFolderStore
from services.wall import BOARD_BEHIND_PERIODS, HISTORY_MAX_POINTS, WallFilter, WallService
from tests.support.sweeps import small_sweep


class SettableNow:
    """The time of day a test moves on by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path):
    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(airflow)
    clock = SettableNow()
    cache = diskcache.Cache(str(tmp_path / "cache"))
    results = LocalFolderStore(tmp_path / "results")
    monitor = MonitorService(
        client, ResultsService(results), DiskSharedCache(cache), ttl_s=60, clock=Clock(now=clock)
    )
    registry = SweepRegistry(tmp_path / "app")
    deploy = DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None)
    runs: dict[str, str] = {}
    for config in (
        small_sweep(name="alpha", owner="ann", points_per_task=2),
        small_sweep("MomentumStrategy", name="beta", owner="bob"),
        small_sweep(name="idle", owner="ann"),
    ):
        registry.save(config)
        assert deploy.deploy(config).ok
        if config.name != "idle":
            runs[config.name] = RunService(client).trigger(config).run_id
            registry.record_run(config.name, runs[config.name])
    alpha = registry.get("alpha").config
    for index in (0, 1):  # chunk 0 of alpha wrote its two result files
        record = {"index": index, "params": alpha.point(index), "metrics": {"sharpe": 1.0}}
        results.put(point_key(alpha.dag_id, runs["alpha"], index), json.dumps(record).encode())
    wall = WallService(registry, monitor, DiskSharedCache(cache), now=clock)
    return airflow, wall, cache, clock, runs, registry


def expire(cache: diskcache.Cache) -> None:
    for key in list(cache.iterkeys()):
        if str(key).startswith("sweep-status:") and not str(key).endswith(":last"):
            cache.delete(key)


def test_tiles_show_sweeps_with_runs_and_their_counts(world) -> None:
    airflow, wall, _cache, _clock, runs, registry = world
    alpha = registry.get("alpha").config
    airflow.set_states(alpha.dag_id, runs["alpha"], "running", {0: "success", 1: "failed", 2: "running"})
    tiles = {tile.name: tile for tile in wall.tiles()}
    assert set(tiles) == {"alpha", "beta"}  # `idle` was never run
    alpha_tile = tiles["alpha"]
    assert alpha_tile.owner == "ann" and alpha_tile.run_state == "running"
    assert alpha_tile.counts[PointState.DONE] == 2
    assert alpha_tile.counts[PointState.FAILED] == 2 and alpha_tile.failures == 2
    assert alpha_tile.counts[PointState.RUNNING] == 2
    assert not alpha_tile.stale


def test_many_walls_cost_one_poll_per_sweep(world) -> None:
    airflow, wall, _cache, _clock, _runs, _registry = world
    wall.tiles()
    before = sum(airflow.requests.values())
    for _ in range(10):
        wall.tiles()
    assert sum(airflow.requests.values()) == before


def test_filters_from_the_url(world) -> None:
    airflow, wall, _cache, _clock, runs, registry = world
    beta = registry.get("beta").config
    airflow.set_states(beta.dag_id, runs["beta"], "success", {0: "success"})
    assert [t.name for t in wall.tiles(WallFilter(owner="ANN"))] == ["alpha"]
    assert [t.name for t in wall.tiles(WallFilter(strategy="momentum"))] == ["beta"]
    assert [t.name for t in wall.tiles(WallFilter(state="success"))] == ["beta"]
    assert [t.name for t in wall.tiles(WallFilter(state="active"))] == ["alpha"]
    assert [t.name for t in wall.tiles(WallFilter(state="finished"))] == ["beta"]
    alpha = registry.get("alpha").config
    airflow.set_states(alpha.dag_id, runs["alpha"], "running", {})
    expire(_cache)
    assert [t.name for t in wall.tiles(WallFilter(state="Running "))] == ["alpha"]
    assert wall.tiles(WallFilter(state="no-such-state")) == []
    assert all(isinstance(t.run_state, RunState) for t in wall.tiles())


def test_old_finished_runs_leave_the_wall(world) -> None:
    airflow, wall, cache, clock, runs, registry = world
    beta = registry.get("beta").config
    airflow.set_states(beta.dag_id, runs["beta"], "success", {0: "success"})
    assert "beta" in [t.name for t in wall.tiles()]
    clock.now += timedelta(days=2)
    expire(cache)
    assert "beta" not in [t.name for t in wall.tiles()]


def test_outage_marks_tiles_stale_and_keeps_the_last_counts(world) -> None:
    airflow, wall, cache, _clock, runs, registry = world
    alpha = registry.get("alpha").config
    airflow.set_states(alpha.dag_id, runs["alpha"], "running", {0: "success"})
    assert {t.name: t.stale for t in wall.tiles()} == {"alpha": False, "beta": False}
    airflow.down = True
    expire(cache)
    tiles = {t.name: t for t in wall.tiles()}
    assert tiles["alpha"].stale and "unreachable" in (tiles["alpha"].stale_reason or "")
    assert tiles["alpha"].run_state == "running"
    airflow.down = False
    expire(cache)
    assert not any(t.stale for t in wall.tiles())


def test_history_appends_fresh_polls_only_and_is_bounded(world) -> None:
    airflow, wall, cache, clock, runs, registry = world
    alpha = registry.get("alpha").config
    airflow.set_states(alpha.dag_id, runs["alpha"], "running", {0: "success"})
    wall.tiles()
    wall.tiles()  # same cached status: no new sample
    assert len(wall.history(alpha.dag_id, runs["alpha"])) == 1
    for _ in range(HISTORY_MAX_POINTS + 5):
        clock.now += timedelta(seconds=5)
        expire(cache)
        wall.tiles()
    history = wall.history(alpha.dag_id, runs["alpha"])
    assert len(history) == HISTORY_MAX_POINTS
    assert history[-1].at == clock.now and history[-1].done == 2
    assert all(a.at < b.at for a, b in pairwise(history))


# ---- the board every wall shows ------------------------------------------------------------------

PERIOD_S = 5.0


def wait_for_rebuild(cache: diskcache.Cache, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(str(key).endswith(":building") for key in cache.iterkeys()):
        assert time.monotonic() < deadline, "the board rebuild did not finish"
        time.sleep(0.01)


def test_board_is_built_once_per_period_for_every_wall(world) -> None:
    airflow, wall, cache, _clock, runs, registry = world
    beta = registry.get("beta").config
    airflow.set_states(beta.dag_id, runs["beta"], "success", {0: "success"})
    assert {t.name for t in wall.board(period_s=PERIOD_S)} == {"alpha", "beta"}
    before = sum(airflow.requests.values())
    expire(cache)  # statuses expired, but this period's board stands
    for _ in range(10):
        assert len(wall.board(period_s=PERIOD_S)) == 2
    assert [t.name for t in wall.board(WallFilter(state="success"), period_s=PERIOD_S)] == ["beta"]
    assert sum(airflow.requests.values()) == before


def test_board_of_a_new_period_is_rebuilt_in_the_background(world, monkeypatch) -> None:
    airflow, wall, cache, clock, runs, registry = world
    alpha = registry.get("alpha").config
    airflow.set_states(alpha.dag_id, runs["alpha"], "running", {})
    assert {t.name: t.run_state for t in wall.board(period_s=PERIOD_S)}["alpha"] == "running"
    airflow.set_states(alpha.dag_id, runs["alpha"], "failed", {0: "failed"})
    monkeypatch.setattr("services.wall.BOARD_WAIT_S", 0.0)  # as when the last rebuild was slow
    clock.now += timedelta(seconds=PERIOD_S)
    expire(cache)
    assert {t.name: t.run_state for t in wall.board(period_s=PERIOD_S)}["alpha"] == "running"  # last board
    wait_for_rebuild(cache)
    assert {t.name: t.run_state for t in wall.board(period_s=PERIOD_S)}["alpha"] == "failed"


def test_board_nobody_watched_for_long_is_rebuilt_before_answering(world, monkeypatch) -> None:
    airflow, wall, cache, clock, runs, registry = world
    alpha = registry.get("alpha").config
    airflow.set_states(alpha.dag_id, runs["alpha"], "running", {})
    wall.board(period_s=PERIOD_S)
    airflow.set_states(alpha.dag_id, runs["alpha"], "failed", {0: "failed"})
    monkeypatch.setattr("services.wall.BOARD_WAIT_S", 0.0)
    clock.now += timedelta(seconds=PERIOD_S * (BOARD_BEHIND_PERIODS + 1))
    expire(cache)
    assert {t.name: t.run_state for t in wall.board(period_s=PERIOD_S)}["alpha"] == "failed"


# ---- Airflow not answering -----------------------------------------------------------------------

AIRFLOW_500 = {"detail": "Internal Server Error"}


def test_airflow_answering_500_with_a_fresh_cache_is_an_outage_not_an_empty_wall(tmp_path, world) -> None:
    airflow, _wall, _cache, clock, _runs, registry = world

    def answering_500(request: ApiRequest) -> ApiResponse:
        return ApiResponse(500, AIRFLOW_500) if failing else airflow(request)

    failing = True
    fresh = diskcache.Cache(str(tmp_path / "fresh-cache"))  # nothing known from before the outage
    monitor = MonitorService(
        AirflowClient(answering_500),
        ResultsService(LocalFolderStore(tmp_path / "results")),
        DiskSharedCache(fresh),
        ttl_s=60,
        clock=Clock(now=clock),
    )
    wall = WallService(registry, monitor, DiskSharedCache(fresh), now=clock)
    started = clock.now

    view = wall.view(period_s=PERIOD_S)

    assert {t.name: t.run_state for t in view.tiles} == {"alpha": "unknown", "beta": "unknown"}
    assert all(t.stale and "HTTP 500" in (t.stale_reason or "") for t in view.tiles)
    assert view.outage is not None and view.outage.since == started and view.outage.stale_tiles == 2
    assert "HTTP 500" in view.outage.reason

    clock.now += timedelta(seconds=PERIOD_S * 2)  # still down: the outage keeps its start
    expire(fresh)
    assert wall.view(period_s=PERIOD_S).outage.since == started

    failing = False
    clock.now += timedelta(seconds=PERIOD_S * (BOARD_BEHIND_PERIODS + 1))
    expire(fresh)
    view = wall.view(period_s=PERIOD_S)
    assert view.outage is None and {t.name for t in view.tiles} == {"alpha", "beta"}
    assert not any(t.stale or t.run_state == "unknown" for t in view.tiles)


def test_runs_started_outside_the_app_reach_the_wall(tmp_path, world) -> None:
    """A deployed sweep triggered through Airflow's REST API (no run id recorded here) gets a tile."""
    airflow, _wall, disk, clock, _runs, registry = world
    cache = DiskSharedCache(disk)
    client = AirflowClient(airflow)
    monitor = MonitorService(client, ResultsService(LocalFolderStore(tmp_path / "results")), cache, ttl_s=60)
    outside = small_sweep(name="outside", owner="cy")
    registry.save(outside)
    deployer = DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None)
    assert deployer.deploy(outside).ok
    registry.record_deploy("outside", outside.spec_hash)
    idle = registry.get("idle").config
    registry.record_deploy("idle", idle.spec_hash)  # deployed, never run: no tile
    run_id = client.trigger(outside.dag_id).run_id  # not through the app: nothing recorded
    assert registry.get("outside").run_ids == []

    only_recorded = WallService(registry, monitor, cache, now=clock)
    assert "outside" not in {tile.name for tile in only_recorded.tiles()}
    wall = WallService(registry, monitor, cache, now=clock, latest_runs=RunService(client).latest_runs)
    tiles = {tile.name: tile for tile in wall.tiles()}
    assert set(tiles) == {"alpha", "beta", "outside"}
    assert tiles["outside"].run_id == run_id
    before = sum(airflow.requests.values())
    wall.tiles()  # the lookup of unrecorded runs is cached like the statuses
    assert sum(airflow.requests.values()) == before
