"""The Results page's validation panel in a real browser, over fake services with a finished sweep whose
validation report is tests/support/fake_validation.py's (the verdict is the framework's verdict())."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from airflow_backtest_framework.validation import verdict
from airflow_backtest_framework.validation_report import ValidationReport
from services.settings import Settings
from tests.e2e.conftest import Seeded, serve_seeded
from tests.e2e.helpers import snap
from tests.fakes import FakeServices
from tests.support.sweeps import small_sweep

pytestmark = pytest.mark.e2e

RUN_SECONDS = 60
REFRESH_S = 2
FINISHED = "mr_validated"
RUNNING = "mr_validating"
MR_GRID = {
    "lookback_period": "10:60:6",
    "entry_threshold": "1.0:3.0:5",
    "stop_loss_pct": "0.02,0.05",
    "cooldown_period": "3,5",
}


def seed(folder: Path) -> FakeServices:
    """Two MeanReversion sweeps: one whose run finished an hour ago, one a quarter into its run."""
    settings = Settings(app_data_dir=folder / "data", cache_dir=folder / "cache")
    services = FakeServices.create(folder / "data" / "fake", settings)
    services.runs.run_seconds = RUN_SECONDS
    for name, started_ago in ((FINISHED, 3600.0), (RUNNING, RUN_SECONDS * 0.25)):
        config = small_sweep(name=name, owner="ann", params=MR_GRID)
        services.registry.save(config)
        services.deployer.deploy(config)
        services.registry.record_deploy(config.name, config.spec_hash)
        services.registry.record_run(config.name, services.runs.trigger(config).run_id)

        def age(data: dict, dag_id: str = config.dag_id, seconds: float = started_ago) -> None:
            data["runs"][dag_id][0]["start_date"] = (
                datetime.now(UTC) - timedelta(seconds=seconds)
            ).isoformat()

        services.runs.state.update(age)
    return services


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    with serve_seeded(tmp_path_factory.mktemp("e2e-validation"), seed, RUN_SECONDS, REFRESH_S) as served:
        yield served


def plot_data(page: Page, graph_id: str, expression: str):
    return page.evaluate(
        f"(() => {{ const g = document.querySelector('#{graph_id} .js-plotly-plot'); "
        f"return {expression}; }})()"
    )


def wait_for_trace(page: Page, graph_id: str) -> None:
    page.wait_for_function(f"document.querySelector('#{graph_id} .js-plotly-plot')?.data?.length > 0")


def expected_report(seeded: Seeded) -> ValidationReport:
    config = seeded.services.registry.get(FINISHED).config
    run_id = seeded.services.runs.list_runs(config)[0].run_id
    read = seeded.services.results.validation(config.dag_id, run_id)
    assert read.report is not None and read.report.final
    return read.report


def open_results(seeded: Seeded, watched_page, viewport: str, theme: str) -> Page:
    page, _watch = watched_page(seeded.url, viewport, theme)
    page.goto(f"{seeded.url}/results/{FINISHED}")
    expect(page.locator("#results-count")).to_contain_text("of 120 points", timeout=15_000)
    for graph in ("results-is-oos", "results-pbo-logits", "results-importance", "results-heatmap"):
        wait_for_trace(page, graph)
    return page


def test_finished_sweep_validation_panel(seeded, watched_page) -> None:
    page = open_results(seeded, watched_page, "1920x1080", "light")
    lines = verdict(expected_report(seeded))
    assert any("DSR" in line for line in lines) and any("PBO" in line for line in lines)
    verdict_box = page.locator("#results-verdict")
    for line in lines:
        expect(verdict_box).to_contain_text(line)
    expect(verdict_box).not_to_contain_text("partial")
    page.get_by_text("How these were computed").click()  # the statistics' inputs, folded by default
    expect(verdict_box.locator(".bt-val-inputs li").first).to_be_visible()
    expect(verdict_box).to_contain_text("noise trials with V[SR]")
    # the scatter: every point, with the in-sample best starred
    names = plot_data(page, "results-is-oos", "g._fullData.map(t => t.name)")
    assert "points" in names and any(n.startswith("in-sample best") for n in names)
    done = expected_report(seeded).points_done
    assert plot_data(page, "results-is-oos", "g._fullData[1].x.length") == done
    # the histogram: the overfit and holding splits, and the 0 line
    assert plot_data(page, "results-pbo-logits", "g._fullData.length") == 2
    assert plot_data(page, "results-pbo-logits", "g._fullLayout.shapes[0].x0") == 0
    expect(page.locator("#results-pbo-logits .main-svg").first).to_be_visible()
    expect(page.locator("#results-is-oos .main-svg").first).to_be_visible()
    snap(page, "results-validation-1920x1080", full_page=False)
    snap(page, "results-validation-1920x1080-full")

    # raw -> smoothed changes the heatmap's values and its colour bar
    raw = plot_data(page, "results-heatmap", "JSON.stringify(g._fullData[0].z)")
    page.locator("#results-heatmap-mode").get_by_text("smoothed").click()
    page.wait_for_function(
        "document.querySelector('#results-heatmap .js-plotly-plot')._fullData[0].colorbar.title.text"
        ".startsWith('Smoothed')"
    )
    smoothed = plot_data(page, "results-heatmap", "JSON.stringify(g._fullData[0].z)")
    assert smoothed != raw
    snap(page, "results-validation-smoothed-1920x1080", full_page=False)

    # the top-N table ranked out of sample: its first row holds the largest out-of-sample Sharpe
    page.locator("#results-rank-by").click()
    page.get_by_role("listbox").get_by_text("out-of-sample Sharpe", exact=True).click()
    expect(page.locator("#results-rank-note")).to_contain_text("ranked by out-of-sample Sharpe")
    best_oos = max(expected_report(seeded).segments.out_of_sample) * (252**0.5)
    first = page.locator(
        "#results-top .ag-center-cols-container .ag-row[row-index='0'] [col-id='sharpe_out_of_sample']"
    )
    expect(first).to_have_text(f"{best_oos:.3f}".rstrip("0").rstrip("."))


@pytest.mark.parametrize(
    ("viewport", "theme"), [("1366x768", "light"), ("1366x768", "dark"), ("1920x1080", "dark")]
)
def test_validation_panel_screenshots(seeded, watched_page, viewport, theme) -> None:
    page = open_results(seeded, watched_page, viewport, theme)
    expect(page.locator("#results-verdict")).to_contain_text("DSR")
    snap(page, f"results-validation-{viewport}-{theme}")


def test_a_running_sweeps_panel_says_partial(seeded, watched_page) -> None:
    config = seeded.services.registry.get(RUNNING).config
    run = seeded.services.runs.trigger(config)  # a fresh run: it is still going whatever ran before
    seeded.services.registry.record_run(config.name, run.run_id)
    page, _watch = watched_page(seeded.url, "1366x768")
    page.goto(f"{seeded.url}/results/{RUNNING}")
    expect(page.locator("#results-count")).to_contain_text("of 120 points have results", timeout=15_000)
    expect(page.locator("#results-verdict .bt-val-partial")).to_contain_text("partial:")
    expect(page.locator("#results-verdict .bt-val-partial")).to_contain_text("of 120 points")
