"""Seeded workspaces of the monitor, wall and results benchmarks: sweeps saved, "deployed" and run in the fake
Airflow, and the result files of their finished points written by the reference engine itself."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from airflow_backtest_framework.dag_factory import _summarize  # the summarize task's own code
from bench.fake_airflow import FakeDagRun, FakeDagsFolderAirflow
from services.dag_generator import render_dag
from services.registry import SweepRegistry

# A small market keeps the engine's seeding time down; the files it writes do not depend on it.
UNIVERSE = ["AAPL", "MSFT"]
START_DATE, END_DATE = "2019-01-01", "2023-12-31"
DATA_SOURCE = "synthetic"

# ---------------------------------------------------------------------------- wall: 50 × 1,000 points

# 100 × 10 values, the other two parameters fixed: 1,000 points in 100 mapped chunks of 10.
GRIDS_1K = {
    "MeanReversionStrategy": {
        "lookback_period": "10:109:100",
        "entry_threshold": "1:3:10",
        "stop_loss_pct": "0.05",
        "cooldown_period": "5",
    },
    "MomentumStrategy": {
        "momentum_period": "5:104:100",
        "signal_threshold": "0.01:0.1:10",
        "stop_loss_pct": "0.05",
        "cooldown_period": "3",
    },
    "LongShortEquityStrategy": {
        "rebalance_period": "5:104:100",
        "take_profit_pct": "0.05:0.5:10",
        "stop_loss_pct": "0.05",
        "cooldown_period": "7",
    },
}
OWNERS = ("alice", "bob", "carol", "dan", "erin")
WALL_SWEEPS = 50
WALL_RUN = "manual__2026-02-01T09:00:00+00:00"
RUNNING_CHUNKS = 8
QUEUED_CHUNKS = 10  # the next ones; the rest have no state yet (not scheduled)


@dataclass
class RunPlan:
    """One sweep's latest run in the fake: its state, when it started/ended, each chunk's state."""

    state: str
    started_ago: timedelta
    chunks: list[str | None]
    ended_ago: timedelta | None = None
    kind: str = ""


def _chunk_states(done: int, running: int, failed: int, total: int) -> list[str | None]:
    queued = min(QUEUED_CHUNKS, total - done - running - failed)
    rest = total - done - running - failed - queued
    return (
        ["success"] * done + ["failed"] * failed + ["running"] * running + ["queued"] * queued + [None] * rest
    )


def wall_plan(i: int, chunks: int) -> RunPlan:
    """The mix of the wall: 30 running (a few with failed chunks), 5 running and failing badly,
    10 that succeeded and 5 that failed within the last hours (still on the wall)."""
    kind = i % 10
    if kind <= 5:
        done = 10 + (i * 7) % 80
        failed = 2 if i % 3 == 0 else 0
        return RunPlan(
            "running",
            timedelta(minutes=10 + i),
            _chunk_states(done, RUNNING_CHUNKS, failed, chunks),
            kind="running",
        )
    if kind == 6:
        return RunPlan("running", timedelta(minutes=40), _chunk_states(40, 5, 15, chunks), kind="failing")
    if kind in (7, 8):
        ended = timedelta(minutes=5 + 7 * i)
        return RunPlan(
            "success", ended + timedelta(minutes=30), ["success"] * chunks, ended, kind="succeeded"
        )
    ended = timedelta(minutes=15 + 3 * i)
    states = _chunk_states(chunks - 20, 0, 20, chunks)
    return RunPlan("failed", ended + timedelta(minutes=45), states, ended, kind="failed")


def wall_config(i: int) -> SweepConfig:
    strategy = list(GRIDS_1K)[i % len(GRIDS_1K)]
    return SweepConfig.model_validate(
        {
            "name": f"bench_wall_{i:02d}",
            "strategy": strategy,
            "params": GRIDS_1K[strategy],
            "universe": UNIVERSE,
            "start_date": START_DATE,
            "end_date": END_DATE,
            "owner": OWNERS[i % len(OWNERS)],
        }
    )


def written_indices(config: SweepConfig, chunk_states: Sequence[str | None]) -> list[int]:
    """The points with a result file: every point of a successful chunk, the first half of a failed
    one (the engine writes the points that ran before it exits 1, then the task fails)."""
    indices: list[int] = []
    for (start, count), state in zip(config.chunks(), chunk_states, strict=True):
        if state == "success":
            indices.extend(range(start, start + count))
        elif state == "failed":
            indices.extend(range(start, start + count // 2))
    return indices


@dataclass
class _Writes:
    """What one engine worker writes for one grid: (spec JSON, run id, indices) per sweep."""

    grid_spec: str
    results_root: str
    sweeps: list[tuple[str, str, list[int]]] = field(default_factory=list)


def _write_grid(job: _Writes) -> int:
    """Run the grid's points once with the reference engine, write each sweep's records with that
    sweep's run context through the engine's own store (the layout and JSON the CLI writes)."""
    from backtest_engine import RunContext, load_market_data, run_point
    from backtest_engine.results import open_store, point_key

    grid = SweepConfig.from_json(job.grid_spec, max_grid_points=None)
    data = load_market_data(grid, DATA_SOURCE)
    wanted = sorted({index for _, _, indices in job.sweeps for index in indices})
    results = {index: run_point(grid, index, data) for index in wanted}
    store = open_store(job.results_root, lambda: None)
    written = 0
    for spec, run_id, indices in job.sweeps:
        config = SweepConfig.from_json(spec, max_grid_points=None)
        context = RunContext(
            strategy=config.strategy,
            dag_id=config.dag_id,
            run_id=run_id,
            data_source=DATA_SOURCE,
            spec_hash=config.spec_hash,
        )
        for index in indices:
            store.put_json(point_key(config.dag_id, run_id, index), results[index].record(context))
            written += 1
    return written


def deploy_into(
    fake: FakeDagsFolderAirflow, registry: SweepRegistry, config: SweepConfig, run: FakeDagRun
) -> None:
    """Save, "deploy" (the DAG file the fake parses, unpaused) and record the run of one sweep."""
    registry.save(config)
    registry.record_deploy(config.name, config.spec_hash)
    registry.record_run(config.name, run.run_id)
    (fake.dags_folder / f"{config.dag_id}.py").write_text(render_dag(config))
    fake.paused[config.dag_id] = False
    fake.runs[config.dag_id] = [run]


def fake_run(run_id: str, plan: RunPlan, now: datetime) -> FakeDagRun:
    run = FakeDagRun(
        run_id=run_id,
        conf={},
        state=plan.state,
        start_date=(now - plan.started_ago).isoformat(),
        end_date=(now - plan.ended_ago).isoformat() if plan.ended_ago is not None else None,
    )
    run.chunk_states = dict(enumerate(plan.chunks))
    run.other_states["plan"] = "success"
    if plan.state in ("success", "failed"):
        run.other_states["summarize"] = plan.state
    return run


def seed_wall(fake: FakeDagsFolderAirflow, registry: SweepRegistry, results_root: Path) -> dict[str, int]:
    """WALL_SWEEPS sweeps of 1,000 points, each saved, deployed and running (or recently finished)
    in the fake, with the engine's result files of its finished points. Counts by kind, and files."""
    now = datetime.now(UTC)
    jobs = {
        strategy: _Writes(grid_spec=wall_config(i).to_json(), results_root=str(results_root))
        for i, strategy in enumerate(GRIDS_1K)
    }
    kinds: dict[str, int] = {}
    for i in range(WALL_SWEEPS):
        config = wall_config(i)
        assert config.grid_size == 1_000, (config.name, config.grid_size)
        plan = wall_plan(i, config.task_count)
        deploy_into(fake, registry, config, fake_run(WALL_RUN, plan, now))
        jobs[config.strategy].sweeps.append(
            (config.to_json(), WALL_RUN, written_indices(config, plan.chunks))
        )
        kinds[plan.kind] = kinds.get(plan.kind, 0) + 1
    kinds["result files"] = sum(_in_processes(_write_grid, list(jobs.values())))
    return kinds


def _in_processes(func: Callable[[Any], Any], jobs: list) -> list:
    """`func` over `jobs` in one process per CPU (the engine is CPU-bound). Call it before starting
    threads: the workers are forked."""
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(func, jobs))


# ---------------------------------------------------------------------------- results: 10,000 points

# 25 × 20 × 10 × 2 values: 10,000 points in 1,000 mapped chunks of 10.
SWEEP_RESULTS = {
    "name": "bench_results10k",
    "strategy": "MeanReversionStrategy",
    "params": {
        "lookback_period": "10:58:25",
        "entry_threshold": "1:3:20",
        "stop_loss_pct": "0.02:0.2:10",
        "cooldown_period": "3,10",
    },
    "universe": UNIVERSE,
    "start_date": START_DATE,
    "end_date": END_DATE,
    "owner": "bench",
}
RESULTS_RUN = "manual__2026-02-02T09:00:00+00:00"


def _engine_chunks(envs: list[dict[str, str]]) -> list[int]:
    """The engine's CLI entry (`python -m backtest_engine`), in-process, once per chunk: exit codes."""
    from backtest_engine import main

    return [main(env) for env in envs]


def seed_results(fake: FakeDagsFolderAirflow, registry: SweepRegistry, results_root: Path) -> SweepConfig:
    """A finished 10,000-point sweep: every chunk run by the engine (points/ and equity/ files), then
    the run's results.csv and summary.json written by the DAG's summarize task code; the run a
    success in the fake."""
    config = SweepConfig.model_validate(SWEEP_RESULTS)
    assert config.grid_size == 10_000 and config.task_count == 1_000, (config.grid_size, config.task_count)
    now = datetime.now(UTC)
    plan = RunPlan("success", timedelta(hours=2), ["success"] * config.task_count, timedelta(minutes=30))
    deploy_into(fake, registry, config, fake_run(RESULTS_RUN, plan, now))
    envs = [
        ec.engine_environment(
            spec_json=config.to_json(),
            strategy=config.strategy,
            start=start,
            count=count,
            results_uri=str(results_root),
            dag_id=config.dag_id,
            run_id=RESULTS_RUN,
            data_source=DATA_SOURCE,
        )
        for start, count in config.chunks()
    ]
    workers = os.cpu_count() or 1
    batches = [envs[k::workers] for k in range(workers)]
    codes = [code for batch in _in_processes(_engine_chunks, batches) for code in batch]
    assert codes == [0] * len(codes), f"the engine failed on {len(codes) - codes.count(0)} chunks"
    summary = _summarize(config, str(results_root), RESULTS_RUN)
    assert summary["points_done"] == config.grid_size, summary
    return config


# ---------------------------------------------------------------------------- monitor: 10,000 points mid-run

# The 10,000-point sweep of the Monitor benchmark: 1,000 mapped chunks of 10 points, mid-run.
SWEEP_10K = {
    "name": "bench_mon10k",
    "strategy": "MeanReversionStrategy",
    "params": {
        "lookback_period": "10:109:100",
        "entry_threshold": "1:3:10",
        "stop_loss_pct": "0.05:0.1:10",
        "cooldown_period": "5",
    },
    "universe": ["AAPL"],
    "start_date": "2015-01-01",
    "end_date": "2024-12-31",
    "owner": "bench",
}
RUN_10K = "manual__2026-01-01T00:00:00+00:00"
RUN_10K_STARTED_AGO = timedelta(minutes=20)
CHUNKS_DONE, CHUNKS_RUNNING, CHUNKS_FAILED = 600, 50, 20  # the other chunks are queued


def seed_10k_sweep(fake: FakeDagsFolderAirflow, registry: SweepRegistry, results_root: Path) -> SweepConfig:
    """Save, "deploy" and start the 10,000-point sweep: 1,000 mapped chunks in mixed states, and the
    result files of the chunks that succeeded (the monitor lists them every poll)."""
    config = SweepConfig.model_validate(SWEEP_10K)
    assert config.grid_size == 10_000 and config.task_count == 1_000, (config.grid_size, config.task_count)
    started = (datetime.now(UTC) - RUN_10K_STARTED_AGO).isoformat()
    run = FakeDagRun(run_id=RUN_10K, conf={}, state="running", start_date=started)
    run.other_states["plan"] = "success"
    states = (
        ["success"] * CHUNKS_DONE
        + ["running"] * CHUNKS_RUNNING
        + ["failed"] * CHUNKS_FAILED
        + ["queued"] * (config.task_count - CHUNKS_DONE - CHUNKS_RUNNING - CHUNKS_FAILED)
    )
    run.chunk_states = dict(enumerate(states))
    deploy_into(fake, registry, config, run)
    chunks = config.chunks()
    points = results_root / ec.run_prefix(config.dag_id, RUN_10K) / ec.POINTS_DIR
    points.mkdir(parents=True, exist_ok=True)
    for chunk in range(CHUNKS_DONE):
        start, count = chunks[chunk]
        for index in range(start, start + count):
            record = {"index": index, "params": config.point(index), "metrics": {"sharpe": index % 7 / 7}}
            (points / f"{index}.json").write_text(json.dumps(record))
    return config
