"""Every page but the wall at 1366×768 and 1920×1080 (and dark at 1920), checked, then saved for review."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import FAKE_RUN_SECONDS
from tests.e2e.helpers import choose_strategy, history_row, save_sweep, snap

pytestmark = pytest.mark.e2e

MR = "MeanReversionStrategy"
CONFIGURE, DEPLOY = "Configure a sweep", "Deploy and trigger"  # the pages' headings
# Text that means the page failed, whatever it looks like: a Python traceback, Dash's own error screens.
ERROR_TEXTS = ("Traceback (most recent call last)", "Error loading layout", "Error loading dependencies")
FITS_WIDTH_JS = "document.documentElement.scrollWidth <= window.innerWidth"


def check_page(page: Page, heading: str, key: str, theme: str) -> None:
    """What a reviewer looks for first in a screenshot: the page's own heading and key element, the theme
    asked for, no error alert or traceback, and nothing wider than the window (no sideways scrolling)."""
    expect(page.locator("h1.bt-page-title")).to_have_text(heading)
    expect(page.locator(key).first).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)
    expect(page.locator(".alert-danger:visible")).to_have_count(0)
    text = page.locator("body").inner_text()
    assert not [error for error in ERROR_TEXTS if error in text], text
    assert page.evaluate(FITS_WIDTH_JS), page.evaluate("[document.documentElement.scrollWidth, innerWidth]")


def shoot(page: Page, name: str, viewport: str, theme: str, heading: str, key: str) -> None:
    check_page(page, heading, key, theme)
    snap(page, f"{name}-{viewport}" + ("" if theme == "light" else f"-{theme}"))


@pytest.mark.parametrize(
    ("viewport", "theme"), [("1366x768", "light"), ("1920x1080", "light"), ("1920x1080", "dark")]
)
def test_screenshots_of_every_page(open_page, app_url, viewport, theme):
    page = open_page(viewport, theme)
    name = f"shot_{viewport.replace('x', '_')}_{theme}"

    page.goto(app_url + "/")
    expect(page.locator("#configure-grid-summary")).to_be_visible()
    shoot(page, "configure-empty", viewport, theme, CONFIGURE, "#configure-grid-summary")
    choose_strategy(page, MR)
    save_sweep(page, name)
    page.click("#configure-preview-toggle")
    expect(page.locator("#configure-preview")).to_contain_text("create_sweep_dag")
    shoot(page, "configure", viewport, theme, CONFIGURE, "#configure-preview")

    page.click("text=Go to Deploy")
    expect(page.locator("#deploy-button")).to_be_enabled()
    shoot(page, "deploy-ready", viewport, theme, DEPLOY, "#deploy-button")
    page.click("#deploy-button")
    expect(page.locator("#deploy-live")).to_contain_text("of 5")
    shoot(page, "deploy-running", viewport, theme, DEPLOY, "#deploy-live")
    expect(page.locator("#deploy-panel")).to_contain_text("Deployed and unpaused.")
    page.click("#deploy-trigger")
    expect(page.locator("#deploy-trigger-result")).to_contain_text("Run started.")
    triggered = time.monotonic()
    shoot(page, "deploy", viewport, theme, DEPLOY, "#deploy-trigger-result")

    page.click("text=Open in Monitor")
    expect(page.locator("#monitor-kpis")).to_contain_text("Points")
    expect(page.locator("#monitor-heatmap .heatmaplayer")).to_have_count(1)
    shoot(page, "monitor-sweep-running", viewport, theme, f"Monitor {name}", "#monitor-heatmap")

    page.goto(app_url + "/monitor")
    expect(page.locator("#monitor-overview")).to_contain_text(name)
    shoot(page, "monitor", viewport, theme, "Monitor", "#monitor-overview")

    page.goto(app_url + "/connections")
    expect(page.locator("#connections-checks")).to_contain_text("checks pass")
    shoot(page, "connections", viewport, theme, "Connections", "#connections-checks")

    page.wait_for_timeout(max(0.0, FAKE_RUN_SECONDS + 1 - (time.monotonic() - triggered)) * 1000)
    page.goto(app_url + f"/monitor/{name}")
    expect(page.locator("#monitor-summary")).to_contain_text("points done")
    shoot(page, "monitor-sweep-done", viewport, theme, f"Monitor {name}", "#monitor-summary")

    page.goto(app_url + f"/results/{name}")
    expect(page.locator("#results-heatmap .heatmaplayer")).to_have_count(1)
    shoot(page, "results", viewport, theme, f"Results {name}", "#results-heatmap")

    page.goto(app_url + "/sweeps")
    history_row(page, name).click()
    expect(page.locator("#sweeps-detail .bt-sweeps-runs")).to_contain_text("success")
    shoot(page, "sweeps", viewport, theme, "Sweep history", "#sweeps-grid")
