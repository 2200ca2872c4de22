"""Locators and small waits shared by the e2e tests."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from airflow_backtest_framework.config import DAG_ID_PREFIX
from services.settings import Settings
from tests.e2e.conftest import SCREENSHOTS

DEBOUNCE_WAIT_MS = 600
SETTLE_MS = 1_500  # let charts finish their first draw before a screenshot
DEPLOY_STEPS = 5


def param_input(page: Page, strategy: str, name: str) -> Locator:
    """A parameter's grid-expression input (its id is a JSON pattern-matching id)."""
    return page.locator(
        f"""input[id*='"name":"{name}"'][id*='"strategy":"{strategy}"'][id*='"type":"configure-param"']"""
    )


def param_feedback(page: Page, strategy: str, name: str) -> Locator:
    return page.locator(
        f"""[id*='"name":"{name}"'][id*='"strategy":"{strategy}"'][id*='"type":"configure-param-feedback"']"""
    )


def type_into(page: Page, locator: Locator, text: str) -> None:
    """Replace a field's text as a user would, then let the debounce fire."""
    locator.fill(text)
    locator.blur()
    page.wait_for_timeout(DEBOUNCE_WAIT_MS)


def wait_for_form(page: Page) -> None:
    """The stored draft has been written into the form (a choice made before would be overwritten)."""
    expect(page.locator('input[id*=\'"type":"configure-param"\']').first).to_be_visible()


def choose_strategy(page: Page, strategy: str) -> None:
    wait_for_form(page)
    page.select_option("#configure-strategy", strategy)
    expect(param_input(page, strategy, "stop_loss_pct")).to_be_visible()


def save_sweep(page: Page, name: str) -> None:
    type_into(page, page.locator("#configure-name"), name)
    expect(page.locator("#configure-save")).to_be_enabled()
    page.click("#configure-save")
    expect(page.locator(".bt-toast")).to_contain_text(f"{name}:")


def choose_factor(page: Page, factor: str) -> None:
    """Tick one factor in the multi-select dropdown (open, search, tick, close).

    Dash loads the dropdown's code on demand: a click that lands before it has loaded opens nothing,
    so the click is repeated until the search box shows (a few times at most)."""
    search = page.locator(".dash-dropdown-search")
    for _attempt in range(3):
        page.click("#configure-factors")
        try:
            expect(search).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            continue
    search.fill(factor)
    page.get_by_role("checkbox", name=f"{factor} —").check()
    page.keyboard.press("Escape")
    expect(page.locator("#configure-factors")).to_contain_text(factor)


def deploy_and_wait(page: Page, timeout_ms: int) -> Locator:
    """Click Deploy and wait for the finished panel: 100 %, every step done or skipped and ticked."""
    page.click("#deploy-button")
    panel = page.locator("#deploy-panel")
    expect(panel).to_contain_text("Deployed and unpaused.", timeout=timeout_ms)
    bar = panel.locator(".progress-bar")
    expect(bar).to_have_text(f"{DEPLOY_STEPS} of {DEPLOY_STEPS}")
    expect(bar).to_have_attribute("style", re.compile(r"width:\s*100%"))
    expect(panel.locator("li.bt-deploy-step-done, li.bt-deploy-step-skipped")).to_have_count(DEPLOY_STEPS)
    expect(panel.locator(".bt-deploy-mark")).to_have_text(["✓"] * DEPLOY_STEPS)
    return panel


def kpi_value(page: Page, label: str) -> Locator:
    """The value of one Monitor KPI card ("Points", "Done", "Running", "Failed", "Elapsed", "ETA")."""
    return page.locator(f".bt-kpi:has(.bt-kpi-label:text-is('{label}')) .bt-kpi-value")


# Records each distinct text a selector shows while the page runs: evidence that a view updated itself.
RECORD_TEXTS_JS = """
([key, root, selector]) => {
    const seen = window[key] = [];
    const note = () => {
        const node = document.querySelector(selector);
        const text = node ? node.textContent.trim() : null;
        if (text !== null && seen[seen.length - 1] !== text) { seen.push(text); }
    };
    note();
    new MutationObserver(note).observe(
        document.querySelector(root), {subtree: true, childList: true, characterData: true, attributes: true}
    );
}
"""


def record_texts(page: Page, key: str, root: str, selector: str) -> None:
    """Start recording the texts of `selector` (below the stable element `root`) into window[key]."""
    page.evaluate(RECORD_TEXTS_JS, [key, root, selector])


def recorded_texts(page: Page, key: str) -> list[str]:
    return page.evaluate(f"window[{key!r}] || []")


def unique_name(prefix: str) -> str:
    """A sweep name of its own per test run: the Airflow instance may be kept between runs."""
    return f"{prefix}_{int(time.time())}"


def snap(page: Page, name: str, full_page: bool = True) -> Path:
    """artifacts/screenshots/<name>.png after the charts settled, with no hover effect and scrolled to the top
    (a sticky navbar is drawn where the page was scrolled)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(SETTLE_MS)
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000
    return path


def remove_dag_file(settings: Settings, name: str) -> None:
    """Keep the (possibly reused) test Airflow's dags folder from growing with every run."""
    (settings.local_dags_folder / f"{DAG_ID_PREFIX}{name}.py").unlink(missing_ok=True)


def history_row(page: Page, name: str) -> Locator:
    """A sweep's row in the /sweeps grid (AG Grid keys rows by sweep name)."""
    return page.locator(f"#sweeps-grid .ag-center-cols-container .ag-row[row-id='{name}']")


def start_run_from_history(page: Page, name: str) -> str:
    """Select the sweep on /sweeps, Re-trigger, confirm; the new run's id from the success alert."""
    history_row(page, name).click()
    page.click("#sweeps-retrigger")
    expect(page.locator("#sweeps-modal")).to_contain_text(f"Start a new run of {name}")
    page.click("#sweeps-confirm")
    alert = page.locator("#sweeps-alert")
    expect(alert).to_contain_text("Started run ")
    return alert.inner_text().split("Started run ", 1)[1].split(" of ", 1)[0]


def cancel_run_from_history(page: Page, name: str, run_id: str) -> None:
    """Select the sweep again (its row now shows the new run), Cancel run, confirm: the alert says failed."""
    history_row(page, name).click()
    expect(page.locator("#sweeps-selection")).to_contain_text(run_id)
    expect(page.locator("#sweeps-cancel")).to_be_enabled()
    page.click("#sweeps-cancel")
    expect(page.locator("#sweeps-modal")).to_contain_text(f"Mark run {run_id} of {name} failed")
    page.click("#sweeps-confirm")
    expect(page.locator("#sweeps-alert")).to_contain_text(f"Run {run_id} of {name} is now failed")
    expect(history_row(page, name)).to_contain_text("failed")
