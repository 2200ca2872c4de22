"""The app's main flow in headless Chromium (Playwright) for the memory benchmark: browser errors seen."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright downloads no browser here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
]
VIEWPORT = {"width": 1920, "height": 1080}
ACTION_TIMEOUT_MS = 30_000  # generous: the app shares 2 cores with its gunicorn workers and the fake Airflow
DEBOUNCE_WAIT_MS = 600  # longer than the Configure form's input debounce
FLOW_STRATEGY = "MeanReversionStrategy"
FLOW_SWEEP = "bench_rss_flow"
FLOW_LOOKBACK = "10:30:3"


def param_input(page: Page, strategy: str, name: str) -> Locator:
    """A parameter's grid-expression input (its id is a JSON pattern-matching id)."""
    return page.locator(
        f"""input[id*='"name":"{name}"'][id*='"strategy":"{strategy}"'][id*='"type":"configure-param"']"""
    )


def type_into(page: Page, locator: Locator, text: str) -> None:
    """Replace a field's text as a user would, then let the debounce fire."""
    locator.fill(text)
    locator.blur()
    page.wait_for_timeout(DEBOUNCE_WAIT_MS)


def configure_and_save(page: Page, strategy: str, lookback: str, name: str) -> None:
    """Pick the strategy once the stored draft is in the form, set one grid expression, save the sweep."""
    from playwright.sync_api import expect

    expect(page.locator('input[id*=\'"type":"configure-param"\']').first).to_be_visible()
    page.select_option("#configure-strategy", strategy)
    expect(param_input(page, strategy, "stop_loss_pct")).to_be_visible()
    type_into(page, param_input(page, strategy, "lookback_period"), lookback)
    type_into(page, page.locator("#configure-name"), name)
    expect(page.locator("#configure-save")).to_be_enabled()
    page.click("#configure-save")
    expect(page.locator(".bt-toast")).to_contain_text(f"{name}:")


def drive_main_flow(url: str, big_sweep: str, watch_s: float) -> list[str]:
    """Configure and save, deploy, trigger, watch the run; then the big sweep's Monitor for `watch_s`, the
    overview, Connections, and the form with its DAG preview. The browser console errors seen, if any."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(
        timeout=ACTION_TIMEOUT_MS
    )  # the 10,000-point heatmap can take more than the 5 s default
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.goto(url + "/")
        configure_and_save(page, FLOW_STRATEGY, FLOW_LOOKBACK, FLOW_SWEEP)
        page.click("text=Go to Deploy")
        page.click("#deploy-button")
        expect(page.locator("#deploy-panel")).to_contain_text("Deployed and unpaused.")
        page.click("#deploy-trigger")
        expect(page.locator("#deploy-trigger-result")).to_contain_text("Run started.")
        page.click("text=Open in Monitor")
        expect(page.locator("#monitor-kpis")).to_contain_text("Points")
        page.goto(f"{url}/monitor/{big_sweep}")
        expect(page.locator("#monitor-kpis")).to_contain_text("10,000")
        expect(page.locator("#monitor-heatmap .heatmaplayer")).to_have_count(1)
        page.wait_for_timeout(watch_s * 1000)
        page.goto(url + "/monitor")
        expect(page.locator("#monitor-overview")).to_contain_text(big_sweep)
        page.goto(url + "/connections")
        expect(page.locator("#connections-checks")).to_contain_text("checks")
        page.goto(url + "/")
        page.click("#configure-preview-toggle")
        expect(page.locator("#configure-preview")).to_contain_text("create_sweep_dag")
        browser.close()
    return errors
