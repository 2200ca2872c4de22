"""Wall, sweep history and results in headless Chromium against the real local Airflow.

Sweeps are saved, deployed and triggered through the services (the form and Deploy page have their own
real e2e test); what the browser sees comes from the app, which reaches Airflow through a TCP relay so
that the relay can take Airflow off the network and bring it back. A sweep triggered with run conf
`fail_points` has real failed chunks (the engine fails those points on their first attempt), and
"Retry failed" reruns exactly those.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from services.airflow.client import AirflowClient
from services.airflow.models import DagRun, TaskState
from services.bootstrap import build_services
from services.ports import Services
from services.results_analysis import metric_grid, top_n
from services.settings import Settings
from tests.e2e.conftest import REAL_REFRESH_INTERVAL_S, app_env, free_port, serve
from tests.e2e.helpers import (
    cancel_run_from_history,
    history_row,
    remove_dag_file,
    snap,
    start_run_from_history,
    unique_name,
)
from tests.support.live_airflow import patient_client
from tests.support.sweeps import small_sweep
from tests.support.tcp_relay import TcpRelay

RUN_TIMEOUT_S = 240.0
RUN_TIMEOUT_MS = RUN_TIMEOUT_S * 1_000
POLL_S = 1.0
WALL_TIMEOUT_MS = 60_000  # both sweeps queued → running on 2 cores shared with Airflow
CANCEL_SETTLE_S = 5.0
STALE_TIMEOUT_MS = 30_000  # the transport's retries, then the next refresh
FAIL_POINTS = (1, 5)  # chunks of 3 points: map indices 0 and 1 fail, 2 and 3 succeed
FAILED_CHUNKS = [0, 1]
MR_GRID = {
    "lookback_period": "20:40:3",
    "entry_threshold": "2.0,2.5",
    "stop_loss_pct": "0.05,0.1",
    "cooldown_period": "5",
}
LONG_GRID = {**MR_GRID, "lookback_period": "10:60:6", "entry_threshold": "1.0:3.0:5"}  # 60 chunks of 1
MOM_GRID = {
    "momentum_period": "10:40:4",
    "signal_threshold": "0.02,0.05",
    "stop_loss_pct": "0.05,0.1",
    "cooldown_period": "3",
}


@dataclass
class Stack:
    url: str
    relay: TcpRelay
    services: Services
    client: AirflowClient
    wall: tuple[SweepConfig, SweepConfig]
    failing: SweepConfig
    long: SweepConfig  # deployed only: the history test starts and cancels its run
    runs: dict[str, str]  # sweep name → run id


def deploy(services: Services, config: SweepConfig) -> None:
    services.registry.save(config)
    progress = services.deployer.deploy(config)
    assert progress.ok, progress.error
    services.registry.record_deploy(config.name, config.spec_hash)


def trigger(services: Services, client: AirflowClient, config: SweepConfig, conf: dict) -> str:
    run = client.trigger(config.dag_id, {"spec_hash": config.spec_hash, **conf})
    services.registry.record_run(config.name, run.run_id)
    return run.run_id


@pytest.fixture(scope="module")
def stack(airflow_stack: Settings, tmp_path_factory) -> Iterator[Stack]:
    """The app (`python app.py`) behind a relay to the real Airflow; two sweeps for the wall and one
    with injected failures, all triggered at once so that they run concurrently."""
    folder = tmp_path_factory.mktemp("e2e-real-wall")
    airflow = urlsplit(airflow_stack.airflow_url)
    stamp = unique_name("")
    wall = (
        small_sweep(name=f"wall_mr{stamp}", owner="ann", params=MR_GRID, points_per_task=2),
        small_sweep(
            "MomentumStrategy", name=f"wall_mom{stamp}", owner="bob", params=MOM_GRID, points_per_task=2
        ),
    )
    failing = small_sweep(name=f"retry_mr{stamp}", owner="cy", params=MR_GRID, points_per_task=3)
    long = small_sweep(name=f"cancel_mr{stamp}", owner="cy", params=LONG_GRID, points_per_task=1)
    # The test's own services share the app's registry, not its status cache.
    services = build_services(
        airflow_stack.model_copy(update={"app_data_dir": folder / "data", "cache_dir": folder / "test-cache"})
    )
    client = patient_client(airflow_stack)
    with TcpRelay(airflow.hostname or "127.0.0.1", airflow.port or 80) as relay:
        env = app_env(
            folder,
            free_port(),
            airflow_stack,
            AIRFLOW_URL=relay.url,
            REFRESH_INTERVAL_S=str(REAL_REFRESH_INTERVAL_S),
        )
        with serve([sys.executable, "app.py"], env, folder / "app") as served:
            for config in (*wall, failing, long):  # every DAG first: deploys are not slowed by running tasks
                deploy(services, config)
            runs = {config.name: trigger(services, client, config, {}) for config in wall}
            conf = {ec.CONF_FAIL_POINTS: ",".join(map(str, FAIL_POINTS))}
            runs[failing.name] = trigger(services, client, failing, conf)
            yield Stack(served.url, relay, services, client, wall, failing, long, runs)
    for config in (*wall, failing, long):
        remove_dag_file(airflow_stack, config.name)


def wait_for_run(client: AirflowClient, config: SweepConfig, run_id: str) -> DagRun:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        run = client.get_run(config.dag_id, run_id)
        if run.state.finished:
            return run
        time.sleep(POLL_S)
    pytest.fail(f"{config.dag_id} run {run_id} did not finish within {RUN_TIMEOUT_S:.0f} s")


def chunk_tries(client: AirflowClient, config: SweepConfig, run_id: str) -> dict[int, tuple[TaskState, int]]:
    return {
        ti.map_index: (ti.state, ti.try_number)
        for ti in client.list_task_instances(config.dag_id, run_id)
        if ti.task_id == ec.CHUNK_TASK_ID
    }


def files_table(settings: Settings, config: SweepConfig, run_id: str) -> pd.DataFrame:
    """The run's results read straight from the engine's point files: index, parameters, metrics."""
    points = Path(settings.results_root) / ec.run_prefix(config.dag_id, run_id) / ec.POINTS_DIR
    rows = []
    for path in points.glob("*.json"):
        record = json.loads(path.read_text())
        rows.append({"index": record["index"], **record["params"], **record["metrics"]})
    return pd.DataFrame(rows).sort_values("index").reset_index(drop=True)


def tile(page: Page, config: SweepConfig):
    return page.locator(".bt-wall-tile", has_text=config.name)


# --------------------------------------------------------------------------------------------- wall


def test_wall_shows_two_running_sweeps_updating_without_interaction(stack: Stack, watched_page) -> None:
    page, watch = watched_page(stack.url, "1920x1080")
    page.goto(stack.url + "/wall")
    first, second = stack.wall
    expect(tile(page, first)).to_be_visible(timeout=WALL_TIMEOUT_MS)
    expect(tile(page, second)).to_be_visible()
    expect(page.locator(".bt-navbar")).to_be_hidden()
    # Both runs are running at the same moment, on the same wall; what each tile said then.
    seen = page.wait_for_function(
        """([a, b]) => {
            const tile = (name) => [...document.querySelectorAll('.bt-wall-tile')]
                .find((t) => t.querySelector('.bt-wall-name')?.textContent === name);
            const state = (name) => tile(name)?.querySelector('.bt-wall-state')?.textContent;
            const done = (name) => tile(name).querySelector('.bt-wall-of').textContent;
            return state(a) === 'running' && state(b) === 'running' && [done(a), done(b)];
        }""",
        arg=[first.name, second.name],
        timeout=WALL_TIMEOUT_MS,
    ).json_value()
    snap(page, "real-wall-running-1920x1080")
    assert all(text.endswith(" points") for text in seen), seen
    # With no click, each tile moves from running to success with the whole grid done (a fast sweep
    # may have finished its points already while summarize still ran: then only the state moves).
    for config in stack.wall:
        expect(tile(page, config).locator(".bt-wall-state")).to_have_text("success", timeout=RUN_TIMEOUT_MS)
        expect(tile(page, config).locator(".bt-wall-of")).to_have_text(
            f"{config.grid_size:,} / {config.grid_size:,} points"
        )
        expect(tile(page, config).locator(".bt-wall-pct")).to_have_text("100%")
    watch.check()


def test_airflow_outage_turns_tiles_stale_and_they_recover(stack: Stack, watched_page) -> None:
    page, watch = watched_page(stack.url, "1920x1080")
    page.goto(stack.url + "/wall")
    tiles = page.locator(".bt-wall-tile")
    expect(tile(page, stack.wall[0])).to_be_visible(timeout=WALL_TIMEOUT_MS)
    count = tiles.count()
    stack.relay.cut()
    try:
        expect(page.locator(".bt-wall-tile-stale")).to_have_count(count, timeout=STALE_TIMEOUT_MS)
        note = tile(page, stack.wall[0]).locator(".bt-wall-stale-note")
        expect(note).to_contain_text("stale since")
        expect(page.locator(".bt-wall-summary")).to_contain_text(f"{count} stale")
        expect(tile(page, stack.wall[0]).locator(".bt-wall-pct")).to_be_visible()  # last known state kept
        snap(page, "real-wall-stale-1920x1080")
    finally:
        stack.relay.restore()
    expect(page.locator(".bt-wall-tile-stale")).to_have_count(0, timeout=STALE_TIMEOUT_MS)
    expect(tiles).to_have_count(count)
    watch.check()


# ------------------------------------------------------------------------------------------ history


def test_history_search_clone_and_retry_only_the_failed_points(stack: Stack, watched_page) -> None:
    config, run_id = stack.failing, stack.runs[stack.failing.name]
    first = wait_for_run(stack.client, config, run_id)
    assert first.state == "failed"
    before = chunk_tries(stack.client, config, run_id)
    assert sorted(i for i, (state, _) in before.items() if state == TaskState.FAILED) == FAILED_CHUNKS
    assert {i: tries for i, (_, tries) in before.items()} == {0: 1, 1: 1, 2: 1, 3: 1}

    page, watch = watched_page(stack.url, "1366x768")
    page.goto(stack.url + "/sweeps")
    rows = page.locator("#sweeps-grid .ag-center-cols-container .ag-row")
    expect(rows.first).to_be_visible()
    page.fill("#sweeps-search", config.name)
    expect(rows).to_have_count(1)
    row = history_row(page, config.name)
    expect(row).to_contain_text("failed")
    row.click()
    expect(page.locator("#sweeps-selection")).to_contain_text(f"{config.name} · last run {run_id} (failed)")
    newest_run = page.locator("#sweeps-detail .bt-sweeps-runs tbody tr").first
    expect(newest_run).to_contain_text(run_id)
    expect(newest_run).to_contain_text("failed")

    page.click("#sweeps-retry")
    expect(page.locator("#sweeps-modal")).to_be_visible()
    page.click("#sweeps-confirm")
    alert = page.locator("#sweeps-alert")
    expect(alert).to_contain_text(f"Cleared {len(FAILED_CHUNKS)} failed chunk(s) of run {run_id}")
    expect(alert).to_contain_text(f"map indices {FAILED_CHUNKS}")

    second = wait_for_run(stack.client, config, run_id)
    assert second.state == "success"
    after = chunk_tries(stack.client, config, run_id)
    assert {i: state for i, (state, _) in after.items()} == dict.fromkeys(range(4), TaskState.SUCCESS)
    assert {i: tries for i, (_, tries) in after.items()} == {0: 2, 1: 2, 2: 1, 3: 1}  # only the failed reran
    assert sorted(files_table(stack.services.settings, config, run_id)["index"]) == list(
        range(config.grid_size)
    )

    page.click("#sweeps-refresh")
    expect(row).to_contain_text("success")
    page.click("#sweeps-clone")
    expect(page).to_have_url(f"{stack.url}/?clone={config.name}")
    expect(page.locator("#configure-name")).to_have_value(f"{config.name}_copy")
    expect(page.locator("#configure-owner")).to_have_value(config.owner)
    watch.check()


def test_history_start_then_cancel_a_run(stack: Stack, watched_page) -> None:
    config = stack.long
    page, watch = watched_page(stack.url, "1366x768")
    page.goto(stack.url + "/sweeps")
    history_row(page, config.name).click()
    expect(page.locator("#sweeps-selection")).to_contain_text("(never run)")
    expect(page.locator("#sweeps-cancel")).to_be_disabled()  # nothing is running
    run_id = start_run_from_history(page, config.name)
    assert stack.services.registry.get(config.name).run_ids == [run_id]

    cancel_run_from_history(page, config.name, run_id)
    newest_run = page.locator("#sweeps-detail .bt-sweeps-runs tbody tr").first
    expect(newest_run).to_contain_text(run_id)
    expect(newest_run).to_contain_text("failed")
    time.sleep(CANCEL_SETTLE_S)  # the scheduler had its turn: the run stays failed, its chunks stopped
    assert stack.client.get_run(config.dag_id, run_id).state == "failed"
    chunks = chunk_tries(stack.client, config, run_id)
    assert not [i for i, (state, _) in chunks.items() if state in (TaskState.RUNNING, TaskState.QUEUED)]
    assert sum(state == TaskState.SUCCESS for state, _ in chunks.values()) < config.task_count
    watch.check()


# ------------------------------------------------------------------------------------------ results


def heatmap_xz(page: Page) -> tuple[list, list]:
    return page.evaluate(
        """() => {
            const trace = document.querySelector('#results-heatmap .js-plotly-plot')._fullData[0];
            return [Array.from(trace.x), Array.from(trace.z, (row) => Array.from(row))];
        }"""
    )


def test_results_heatmap_top_n_and_csv_reflect_the_real_result_files(stack: Stack, watched_page) -> None:
    config = stack.wall[0]
    run_id = stack.runs[config.name]
    assert wait_for_run(stack.client, config, run_id).state == "success"
    table = files_table(stack.services.settings, config, run_id)
    assert len(table) == config.grid_size and table["sharpe"].nunique() > 1

    page, watch = watched_page(stack.url, "1920x1080")
    page.goto(f"{stack.url}/results/{config.name}")
    expect(page.locator("#results-count")).to_contain_text(f"{config.grid_size} of {config.grid_size} points")
    page.wait_for_function("document.querySelector('#results-heatmap .js-plotly-plot')?.data?.[0]?.z")
    expected = metric_grid(table, "lookback_period", "entry_threshold", "sharpe", "best")
    heat_x, heat_z = heatmap_xz(page)
    assert heat_x == [str(v) for v in expected.columns]
    assert pd.DataFrame(heat_z).to_numpy(dtype=float) == pytest.approx(expected.to_numpy(), nan_ok=True)

    best = top_n(table, "sharpe", 3)
    assert best.loc[0, "sharpe"] == table["sharpe"].max()
    for rank in range(3):
        pinned = page.locator(f"#results-top .ag-pinned-left-cols-container .ag-row[row-index='{rank}']")
        expect(pinned).to_contain_text(str(int(best.loc[rank, "index"])))
    snap(page, "real-results-1920x1080")

    with page.expect_download() as download:
        page.click("#results-csv")
    exported = pd.read_csv(download.value.path())
    pd.testing.assert_frame_equal(
        exported[table.columns].sort_values("index").reset_index(drop=True), table, check_dtype=False
    )
    watch.check()
