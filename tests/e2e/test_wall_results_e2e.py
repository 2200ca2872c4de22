"""Wall, sweep history and results in a real browser, over fake services seeded with several sweeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from services.results_analysis import metric_grid, top_n
from services.settings import Settings
from tests.e2e.conftest import Seeded, serve_seeded
from tests.e2e.helpers import history_row, snap
from tests.fakes import FakeServices
from tests.support.sweeps import small_sweep

pytestmark = pytest.mark.e2e

RUN_SECONDS = 60  # a fake run's length: the wall's running tiles move at every refresh
REFRESH_S = 2
MR_GRID = {
    "lookback_period": "10:60:6",
    "entry_threshold": "1.0:3.0:5",
    "stop_loss_pct": "0.02,0.05",
    "cooldown_period": "3,5",
}
FINISHED = "mr_finished"
RUNNING = ("mr_desk_a", "mom_desk_b")
NEVER_RUN = "ls_draft"


def _age_run(services: FakeServices, dag_id: str, seconds: float) -> None:
    def change(data: dict) -> None:
        run = data["runs"][dag_id][0]
        run["start_date"] = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()

    services.runs.state.update(change)


def seed(folder: Path) -> FakeServices:
    """Four sweeps: one finished an hour ago, two running (one much further along), one never run."""
    settings = Settings(app_data_dir=folder / "data", cache_dir=folder / "cache")
    services = FakeServices.create(folder / "data" / "fake", settings)
    services.runs.run_seconds = RUN_SECONDS
    configs = [
        small_sweep(name=FINISHED, owner="ann", params=MR_GRID),
        small_sweep(name=RUNNING[0], owner="ann", params=MR_GRID),
        small_sweep("MomentumStrategy", name=RUNNING[1], owner="bob"),
        small_sweep("LongShortEquityStrategy", name=NEVER_RUN, owner="cy"),
    ]
    for config in configs:
        services.registry.save(config)
        if config.name == NEVER_RUN:
            continue
        services.deployer.deploy(config)
        services.registry.record_deploy(config.name, config.spec_hash)
        run = services.runs.trigger(config)
        services.registry.record_run(config.name, run.run_id)
    _age_run(services, configs[0].dag_id, 3600)
    _age_run(services, configs[1].dag_id, RUN_SECONDS * 0.4)
    return services


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    with serve_seeded(tmp_path_factory.mktemp("e2e-wall"), seed, RUN_SECONDS, REFRESH_S) as served:
        yield served


def finished_table(services: FakeServices) -> pd.DataFrame:
    config = services.registry.get(FINISHED).config
    run_id = services.runs.list_runs(config)[0].run_id
    return services.results.table(config, run_id)


# ------------------------------------------------------------------------------------------ wall


def test_wall_shows_tiles_and_updates_without_interaction(seeded, watched_page) -> None:
    page, _watch = watched_page(seeded.url, "1920x1080")
    page.goto(seeded.url + "/wall")
    tiles = page.locator(".bt-wall-tile")
    expect(tiles).to_have_count(3, timeout=15_000)  # the never-run sweep has no tile
    expect(page.locator(".bt-navbar")).to_be_hidden()
    running = page.locator(".bt-wall-tile", has_text=RUNNING[0]).locator(".bt-wall-pct")
    first = running.inner_text()
    expect(running).not_to_have_text(first, timeout=10_000)  # refreshed by the interval alone
    finished = page.locator(".bt-wall-tile", has_text=FINISHED)
    expect(finished.locator(".bt-wall-state")).to_have_text("success")
    expect(finished.locator(".bt-wall-count-bad .bt-wall-count-value")).to_have_text("7")  # every 17th of 120
    expect(finished).to_have_class(
        "bt-wall-tile bt-wall-run-success bt-wall-tile-failing"
    )  # every 17th fails
    snap(page, "wall-1920x1080", full_page=False)


def test_wall_filters_from_the_url(seeded, watched_page) -> None:
    page, _watch = watched_page(seeded.url)
    page.goto(seeded.url + "/wall?owner=bob")
    expect(page.locator(".bt-wall-tile")).to_have_count(1)
    expect(page.locator(".bt-wall-tile")).to_contain_text(RUNNING[1])
    page.goto(seeded.url + "/wall?owner=ann&state=success")
    expect(page.locator(".bt-wall-tile")).to_have_count(1)
    expect(page.locator(".bt-wall-tile")).to_contain_text(FINISHED)


def test_wall_at_4k(seeded, browser) -> None:
    context = browser.new_context(viewport={"width": 3840, "height": 2160})
    try:
        page = context.new_page()
        page.goto(seeded.url + "/wall")
        expect(page.locator(".bt-wall-tile")).to_have_count(3)
        snap(page, "wall-3840x2160", full_page=False)
    finally:
        context.close()


# --------------------------------------------------------------------------------------- history


def test_history_search_filters_rows_and_clone_lands_in_configure(seeded, watched_page) -> None:
    page, _watch = watched_page(seeded.url, "1366x768")
    page.goto(seeded.url + "/sweeps")
    rows = page.locator("#sweeps-grid .ag-center-cols-container .ag-row")
    expect(rows).to_have_count(4, timeout=15_000)
    page.fill("#sweeps-search", "bob")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("row-id", RUNNING[1])
    page.fill("#sweeps-search", "")
    expect(rows).to_have_count(4)

    history_row(page, FINISHED).click()
    expect(page.locator("#sweeps-selection")).to_contain_text(FINISHED)
    expect(page.locator("#sweeps-cancel")).to_be_disabled()  # the run has finished
    detail = page.locator("#sweeps-detail")
    finished = seeded.services.registry.get(FINISHED)
    for name, expression in finished.config.params.items():
        expect(detail.locator(".bt-kv-row", has_text=name)).to_contain_text(expression)
    expect(detail.locator(".bt-sweeps-runs tbody tr")).to_have_count(len(finished.run_ids))
    expect(detail.locator(".bt-sweeps-runs")).to_contain_text(finished.run_ids[0])
    snap(page, "sweeps-1366x768")
    page.click("#sweeps-retrigger")
    expect(page.locator("#sweeps-modal")).to_contain_text("Start a new run")
    expect(page.locator("#sweeps-confirm")).to_have_text("Re-trigger")  # the button names the action
    snap(page, "sweeps-confirm-1366x768", full_page=False)
    page.click("#sweeps-dismiss")
    expect(page.locator("#sweeps-modal")).to_be_hidden()

    page.click("#sweeps-clone")
    expect(page).to_have_url(f"{seeded.url}/?clone={FINISHED}")
    expect(page.locator("#configure-name")).to_have_value(f"{FINISHED}_copy")
    expect(page.locator("#configure-strategy")).to_have_value("MeanReversionStrategy")


# --------------------------------------------------------------------------------------- results


def heatmap_xz(page: Page) -> tuple[list, list]:
    """The heatmap's x labels and z rows as plotly drew them (typed arrays decoded)."""
    return page.evaluate(
        """() => {
            const trace = document.querySelector('#results-heatmap .js-plotly-plot')._fullData[0];
            return [Array.from(trace.x), Array.from(trace.z, (row) => Array.from(row))];
        }"""
    )


def test_results_heatmap_top_n_and_csv_export_reflect_the_data(seeded, watched_page) -> None:
    table = finished_table(seeded.services)
    page, _watch = watched_page(seeded.url, "1920x1080")
    page.goto(f"{seeded.url}/results/{FINISHED}")
    expect(page.locator("#results-count")).to_contain_text(f"{len(table):,} of 120 points", timeout=15_000)

    expected = metric_grid(table, "lookback_period", "entry_threshold", "sharpe", "best")
    page.wait_for_function("document.querySelector('#results-heatmap .js-plotly-plot')?.data?.[0]?.z")
    heat_x, heat_z = heatmap_xz(page)
    assert heat_x == [str(v) for v in expected.columns]
    assert pd.DataFrame(heat_z).to_numpy(dtype=float) == pytest.approx(expected.to_numpy(), nan_ok=True)

    best = top_n(table, "sharpe", 20)
    first_row = page.locator("#results-top .ag-center-cols-container .ag-row[row-index='0']")
    expect(first_row).to_contain_text(str(best.loc[0, "lookback_period"]))
    expect(
        page.locator("#results-top .ag-pinned-left-cols-container .ag-row[row-index='0']")
    ).to_contain_text(str(int(best.loc[0, "index"])))
    second = int(best.loc[1, "index"])
    page.locator("#results-top .ag-center-cols-container .ag-row[row-index='1']").click()
    page.wait_for_function(
        "document.querySelector('#results-equity .js-plotly-plot')?._fullLayout?.yaxis?.title?.text"
        f" === 'growth of 1 · point {second} · daily returns'"
    )
    snap(page, "results-1920x1080", full_page=False)

    with page.expect_download() as download:
        page.click("#results-csv")
    exported = pd.read_csv(download.value.path())  # the table, then the validation report's columns
    assert {"sharpe_in_sample", "sharpe_out_of_sample", "sharpe_smoothed"} <= set(exported.columns)
    pd.testing.assert_frame_equal(
        exported[list(table.columns)], table.reset_index(drop=True), check_dtype=False
    )

    # changing an axis redraws the heatmap over the new parameter's values
    page.click("#results-x")
    page.get_by_role("option", name="stop_loss_pct · 2").click()
    page.wait_for_function(
        "document.querySelector('#results-heatmap .js-plotly-plot')._fullData[0].x.length === 2"
    )


def test_results_at_1366(seeded, watched_page) -> None:
    page, _watch = watched_page(seeded.url, "1366x768")
    page.goto(f"{seeded.url}/results/{FINISHED}")
    page.wait_for_function("document.querySelector('#results-heatmap .js-plotly-plot')?.data?.[0]?.z")
    snap(page, "results-1366x768", full_page=False)


def test_results_of_a_running_sweep_load_what_exists(seeded, watched_page) -> None:
    config = seeded.services.registry.get(RUNNING[0]).config
    run = seeded.services.runs.trigger(config)  # a fresh run: it is still going whatever ran before
    seeded.services.registry.record_run(config.name, run.run_id)
    page, _watch = watched_page(seeded.url)
    page.goto(f"{seeded.url}/results/{RUNNING[0]}")
    count = page.locator("#results-count")
    expect(count).to_contain_text("of 120 points have results", timeout=15_000)
    first = count.inner_text()
    expect(count).not_to_have_text(first, timeout=20_000)  # more points arrive while it runs
