"""A synthetic sweep is labelled "not evidence" on every page that shows its results, in a real browser."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import FAKE_RUN_SECONDS
from tests.e2e.helpers import choose_strategy, history_row, save_sweep, snap

pytestmark = pytest.mark.e2e

MR = "MeanReversionStrategy"
NOT_EVIDENCE = "synthetic data — not evidence"
SLOW_MS = 60_000  # the shared test machine runs many suites at once: the heatmap may take a while


def test_a_synthetic_sweep_is_labelled_wherever_its_results_show(open_page, app_url):
    page = open_page("1366x768", "light")
    page.goto(app_url + "/")
    choose_strategy(page, MR)
    page.click("#configure-reset")
    expect(page.locator("#configure-data-hint")).to_contain_text("Every symbol has data")
    snap(page, "configure-data-source")
    page.select_option("#configure-data-source", "synthetic")
    expect(page.locator("#configure-data-hint")).to_contain_text("not evidence")
    save_sweep(page, "e2e_labels")

    page.click("text=Go to Deploy")
    expect(page.locator("#deploy-preflight .bt-check-row-warn")).to_contain_text("not evidence")
    page.click("#deploy-button")
    expect(page.locator("#deploy-panel")).to_contain_text("Deployed and unpaused.")
    page.click("#deploy-trigger")
    expect(page.locator("#deploy-trigger-result")).to_contain_text("Run started.")
    triggered = time.monotonic()
    page.wait_for_timeout(max(0.0, FAKE_RUN_SECONDS + 1 - (time.monotonic() - triggered)) * 1000)

    page.goto(app_url + "/results/e2e_labels")
    expect(page.locator("#results-heatmap .heatmaplayer")).to_have_count(1, timeout=SLOW_MS)
    expect(page.locator("#results-labels")).to_contain_text(NOT_EVIDENCE)
    expect(page.locator("#results-equity")).to_contain_text("growth of 1", timeout=SLOW_MS)
    snap(page, "results-labels")
    page.goto(app_url + "/monitor/e2e_labels")
    expect(page.locator("#monitor-labels")).to_contain_text(NOT_EVIDENCE)
    page.goto(app_url + "/sweeps")
    history_row(page, "e2e_labels").click()
    expect(page.locator("#sweeps-detail")).to_contain_text(NOT_EVIDENCE)
    expect(page.locator("#sweeps-detail")).to_contain_text("synthetic")  # the summary's Data row
    snap(page, "sweeps-labels")
    page.goto(app_url + "/wall")
    expect(page.locator(".bt-wall-tile", has_text="e2e_labels")).to_contain_text(NOT_EVIDENCE)
    snap(page, "wall-labels")
