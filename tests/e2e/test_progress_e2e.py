"""A sweep's progress charts, its runs compared and the Progress / Results tabs, in a browser over fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from services.settings import Settings
from tests.e2e.conftest import Seeded, serve_seeded
from tests.e2e.helpers import SETTLE_MS, snap
from tests.fakes import FakeServices
from tests.support.fake_sweep_progress import FAILED_EVERY
from tests.support.sweeps import small_sweep

pytestmark = pytest.mark.e2e

RUN_SECONDS = 600  # the newest run's length: it is still going however slowly the tests run
REFRESH_S = 2
GRID = {
    "lookback_period": "10:60:6",
    "entry_threshold": "1.0:3.0:5",
    "stop_loss_pct": "0.02,0.05",
    "cooldown_period": "3,5",
}
GRID_SIZE = 120
SWEEP = "mr_progress"  # three runs: two finished at different paces, one running
SINGLE = "mr_single"  # one run: no comparison
# (started this long ago, took this long) of each run of SWEEP, oldest first.
RUNS = ((3 * 3600.0, 1800.0), (3600.0, 900.0), (RUN_SECONDS * 0.4, RUN_SECONDS))


def _spread_runs(services: FakeServices, dag_id: str) -> None:
    """Give the runs (newest first in the state) their own start, id and length."""
    now = datetime.now(UTC)

    def change(data: dict) -> None:
        for run, (ago_s, seconds) in zip(data["runs"][dag_id], reversed(RUNS), strict=True):
            start = now - timedelta(seconds=ago_s)
            run["start_date"] = start.isoformat()
            run["run_id"] = f"manual__{start.isoformat(timespec='seconds')}"
            run["run_seconds"] = seconds

    services.runs.state.update(change)


def seed(folder: Path) -> FakeServices:
    settings = Settings(app_data_dir=folder / "data", cache_dir=folder / "cache")
    services = FakeServices.create(folder / "data" / "fake", settings)
    for name, runs in ((SWEEP, len(RUNS)), (SINGLE, 1)):
        config = small_sweep(name=name, owner="ann", params=GRID)
        services.registry.save(config)
        services.deployer.deploy(config)
        services.registry.record_deploy(name, config.spec_hash)
        for _ in range(runs):
            services.registry.record_run(name, services.runs.trigger(config).run_id)
    _spread_runs(services, services.registry.get(SWEEP).config.dag_id)
    return services


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    with serve_seeded(tmp_path_factory.mktemp("e2e-progress"), seed, RUN_SECONDS, REFRESH_S) as served:
        yield served


def traces(page: Page, graph_id: str) -> list[dict]:
    """A graph's traces as plotly drew them: type, name, x and y (typed arrays decoded)."""
    return page.evaluate(
        """(id) => {
            const plot = document.querySelector(`#${id} .js-plotly-plot`);
            return (plot?._fullData || []).map((t) => ({
                type: t.type, name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || []),
            }));
        }""",
        graph_id,
    )


def wait_for_traces(page: Page, graph_id: str, count: int) -> None:
    page.wait_for_function(
        "([id, n]) => (document.querySelector(`#${id} .js-plotly-plot`)?._fullData || []).length === n",
        arg=[graph_id, count],
    )


def test_progress_charts_update_and_runs_are_compared(seeded, watched_page) -> None:
    page, _watch = watched_page(seeded.url, "1920x1080")
    page.goto(f"{seeded.url}/monitor/{SWEEP}")

    wait_for_traces(page, "monitor-coverage-time", 2)  # points done, and the ETA while the run goes on
    done, eta = traces(page, "monitor-coverage-time")
    assert eta["name"] == "ETA" and eta["y"][-1] == GRID_SIZE
    assert done["y"] == sorted(done["y"]) and 0 < done["y"][-1] < GRID_SIZE
    page.wait_for_function(  # the next polls move it without a click
        "([id, last]) => document.querySelector(`#${id} .js-plotly-plot`)._fullData[0].y.at(-1) > last",
        arg=["monitor-coverage-time", done["y"][-1]],
        timeout=20_000,
    )
    (bars,) = traces(page, "monitor-throughput")
    assert bars["type"] == "bar" and max(bars["y"]) > 0

    expect(page.locator("#monitor-runs-card")).to_be_visible()
    wait_for_traces(page, "monitor-runs", len(RUNS))
    runs = traces(page, "monitor-runs")
    finished_share = (GRID_SIZE - GRID_SIZE // FAILED_EVERY) / GRID_SIZE  # the fakes fail every 17th point
    assert sorted(run["y"][-1] for run in runs)[-2:] == [pytest.approx(finished_share)] * 2
    assert {run["name"].rsplit(" · ", 1)[1] for run in runs} == {"success", "running"}
    # The slower old run took twice as long: its lines end further right.
    ends = sorted(run["x"][-1] for run in runs)
    assert ends[-1] == pytest.approx(2 * ends[-2], rel=0.05)


def test_a_single_run_sweep_has_no_runs_comparison(seeded, watched_page) -> None:
    page, _watch = watched_page(seeded.url)
    page.goto(f"{seeded.url}/monitor/{SINGLE}")
    wait_for_traces(page, "monitor-coverage-time", 2)
    page.wait_for_timeout(SETTLE_MS)
    expect(page.locator("#monitor-runs-card")).to_be_hidden()


def test_tabs_switch_between_progress_and_results(seeded, watched_page) -> None:
    page, _watch = watched_page(seeded.url)
    page.goto(f"{seeded.url}/monitor/{SWEEP}")
    nav = page.locator(".bt-sweep-nav")
    expect(nav.locator(".nav-link.active")).to_have_text("Progress")
    nav.get_by_role("link", name="Results").click()
    expect(page).to_have_url(f"{seeded.url}/results/{SWEEP}")
    expect(page.locator(".bt-sweep-nav .nav-link.active")).to_have_text("Results")
    expect(page.locator("#results-count")).to_contain_text(f"of {GRID_SIZE} points")
    snap(page, "results-tabs-1366x768", full_page=False)
    page.locator(".bt-sweep-nav").get_by_role("link", name="Progress").click()
    expect(page).to_have_url(f"{seeded.url}/monitor/{SWEEP}")
    wait_for_traces(page, "monitor-coverage-time", 2)


@pytest.mark.parametrize(
    ("viewport", "theme"), [("1366x768", "light"), ("1920x1080", "light"), ("1920x1080", "dark")]
)
def test_screenshots_of_the_sweep_page(seeded, watched_page, viewport, theme) -> None:
    page, _watch = watched_page(seeded.url, viewport, theme)
    page.goto(f"{seeded.url}/monitor/{SWEEP}")
    wait_for_traces(page, "monitor-coverage-time", 2)
    wait_for_traces(page, "monitor-runs", len(RUNS))
    suffix = "" if theme == "light" else f"-{theme}"
    snap(page, f"monitor-progress-{viewport}{suffix}")
