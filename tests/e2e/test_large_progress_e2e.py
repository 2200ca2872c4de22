"""A big chunk in the real local Airflow, seen in a browser: Monitor's Done count moves while the chunk runs
(its progress record), and the coverage heatmap fills in space-filling order, not row by row. The run is
triggered through Airflow's REST API, not the app: Monitor shows it all the same."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from airflow_backtest_framework.config import SweepConfig
from services.bootstrap import build_services
from services.settings import Settings
from tests.e2e.conftest import app_env, free_port, serve
from tests.e2e.helpers import kpi_value, snap
from tests.support.live_airflow import patient_client

pytestmark = pytest.mark.e2e

REFRESH_S = 1
RUN_TIMEOUT_S = 600
SIDE = 40  # a 40 x 40 grid of the two signal parameters: 1,600 points, every cell one point
GRID = {
    "momentum_period": f"10:{10 + SIDE - 1}:{SIDE}",
    "signal_threshold": f"0.01:0.4:{SIDE}",
    "stop_loss_pct": "0.05",
    "cooldown_period": "5",
}
# The heatmap's cells as the page drew them (plotly's calcdata holds the decoded z matrix).
HEATMAP_Z_JS = """
() => {
    const graph = document.querySelector('#monitor-heatmap .js-plotly-plot');
    const trace = graph && graph.calcdata && graph.calcdata[0] && graph.calcdata[0][0];
    return trace && trace.z ? trace.z.map(row => Array.from(row)) : null;
}
"""


@pytest.fixture
def app_and_services(airflow_stack: Settings, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """`python app.py` against the real Airflow, and services over the same registry (to save and deploy)."""
    port = free_port()
    settings = airflow_stack.model_copy(
        update={"app_data_dir": tmp_path / "data", "cache_dir": tmp_path / "test-cache"}
    )
    env = app_env(tmp_path, port, airflow_stack, REFRESH_INTERVAL_S=str(REFRESH_S))
    with serve([sys.executable, "app.py"], env, tmp_path / "server") as served:
        yield served.url, build_services(settings)


def quadrants_with_points(z: list[list[float]]) -> int:
    half = SIDE // 2
    return sum(
        any(z[row][col] > 0 for row in rows for col in cols)
        for rows in (range(half), range(half, SIDE))
        for cols in (range(half), range(half, SIDE))
    )


def test_monitor_moves_within_one_chunk_and_fills_the_grid_early(app_and_services, watched_page) -> None:
    url, services = app_and_services
    config = SweepConfig(
        name=f"e2e_big_chunk_{int(time.time())}",
        strategy="MomentumStrategy",
        params=GRID,
        universe=["AAPL", "MSFT", "GOOGL", "AMZN", "JPM", "XOM", "NVDA", "META"],
        start_date="2012-01-01",  # ~10 s of backtests in the one chunk: many progress records
        end_date="2023-12-31",
        points_per_task=SIDE * SIDE,  # one chunk: every intermediate value is within its run
        owner="e2e",
    )
    services.registry.save(config)
    assert services.deployer.deploy(config).ok
    services.registry.record_deploy(config.name, config.spec_hash)
    client = patient_client(services.settings)

    page, watch = watched_page(url)
    page.goto(f"{url}/monitor/{config.name}")
    expect(kpi_value(page, "Points")).to_have_text(f"{SIDE * SIDE:,}")
    run_id = client.trigger(config.dag_id).run_id  # from outside the app: nothing recorded in the registry

    done_seen: list[int] = []
    spread_at: list[tuple[int, int]] = []  # (points done, quadrants holding some) while under half done
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        state = client.get_run(config.dag_id, run_id).state
        text = kpi_value(page, "Done").inner_text().replace(",", "")
        done = int(text) if text.isdigit() else 0
        if 0 < done < SIDE * SIDE and done not in done_seen:
            done_seen.append(done)
            # The heatmap redraws in its own callback, a moment after the Done count: judge it by the
            # cells it shows itself (each cell one point), not by the count beside it.
            z = page.evaluate(HEATMAP_Z_JS)
            cells = sum(value > 0 for row in z for value in row) if z is not None else 0
            if 16 <= cells < SIDE * SIDE // 2:
                spread_at.append((cells, quadrants_with_points(z)))
                if len(spread_at) == 1:
                    snap(page, "large-monitor-filling")
        if state in ("success", "failed"):
            break
        page.wait_for_timeout(250)
    assert state == "success"
    expect(kpi_value(page, "Done")).to_have_text(f"{SIDE * SIDE:,}", timeout=30_000)
    # The one chunk's progress reached the page at least three times before it ended.
    assert len(done_seen) >= 3, done_seen
    # Under half done, the heatmap already had points in every quadrant (row by row: two at most).
    assert spread_at and all(quadrants == 4 for _cells, quadrants in spread_at), spread_at
    assert run_id in page.locator("#monitor-run-header").inner_text()
    watch.check()
