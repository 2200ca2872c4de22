"""The product against the real local Airflow, in headless Chromium: `python app.py` from an empty form to a
finished sweep, and `gunicorn -w 2 app:server` sharing its registry and background deploys across workers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import GunicornApp
from tests.e2e.helpers import (
    DEPLOY_STEPS,
    choose_factor,
    choose_strategy,
    deploy_and_wait,
    kpi_value,
    param_feedback,
    param_input,
    record_texts,
    recorded_texts,
    remove_dag_file,
    save_sweep,
    snap,
    type_into,
    unique_name,
)

pytestmark = pytest.mark.e2e

MR = "MeanReversionStrategy"
DEPLOY_TIMEOUT_MS = 90_000  # render, upload, Airflow's parse (refresh_interval 2 s), unpause
RUN_TIMEOUT_MS = 180_000  # 12 points in 3 mapped tasks on LocalExecutor
INVALID = re.compile(r"\bis-invalid\b")


@dataclass(frozen=True)
class SweepForm:
    """What the test types into the Configure form (and expects to find there after a reload)."""

    name: str
    params: dict[str, str] = field(
        default_factory=lambda: {
            "lookback_period": "10:30:3",
            "entry_threshold": "1.5,2.5",
            "stop_loss_pct": "0.05,0.1",
            "cooldown_period": "5",
        }
    )
    universe: str = "AAPL, MSFT, GOOGL, AMZN, NVDA, META"
    data_source: str = "synthetic"  # a plumbing run: symbols and a factor the bundled sample lacks
    factor: str = "Volatility60D"
    start_date: str = "2022-01-01"
    end_date: str = "2023-12-31"
    initial_capital: str = "500000"
    points_per_task: str = "4"
    owner: str = "e2e"
    description: str = "Real end-to-end sweep"
    grid_summary: str = "12 points in 3 tasks of ~4"
    points: int = 12

    @property
    def fields(self) -> dict[str, str]:
        return {
            "#configure-universe": self.universe,
            "#configure-start-date": self.start_date,
            "#configure-end-date": self.end_date,
            "#configure-initial-capital": self.initial_capital,
            "#configure-points-per-task": self.points_per_task,
            "#configure-owner": self.owner,
            "#configure-description": self.description,
        }


def fill_form(page: Page, form: SweepForm) -> None:
    """Type the sweep, seeing a bad grid expression rejected under its field and the grid size update."""
    choose_strategy(page, MR)
    lookback = param_input(page, MR, "lookback_period")
    for param, expression in form.params.items():
        if param != "lookback_period":
            type_into(page, param_input(page, MR, param), expression)

    type_into(page, lookback, "10:x")
    expect(param_feedback(page, MR, "lookback_period")).to_have_text(
        "'10:x' is not a range; write min:max:count, e.g. 7:91:5"
    )
    expect(param_feedback(page, MR, "lookback_period")).to_be_visible()
    expect(lookback).to_have_class(INVALID)
    expect(page.locator("#configure-grid-summary")).to_have_text("grid size unknown")
    expect(page.locator("#configure-grid-message")).to_have_text("Fix the parameter grid to see its size.")
    expect(page.locator("#configure-save")).to_be_disabled()

    type_into(page, lookback, form.params["lookback_period"])
    expect(lookback).not_to_have_class(INVALID)
    expect(param_feedback(page, MR, "lookback_period")).to_have_text("")
    expect(page.locator(".bt-param-values").first).to_have_text("3 values: 10, 20, 30")
    for selector, value in form.fields.items():
        type_into(page, page.locator(selector), value)
    page.select_option("#configure-data-source", form.data_source)
    choose_factor(page, form.factor)
    expect(page.locator("#configure-grid-summary")).to_have_text(form.grid_summary)
    expect(page.locator("#configure-grid-message")).to_have_text("under 0.1% of the 100,000-point limit.")


def assert_form(page: Page, form: SweepForm) -> None:
    expect(page.locator("#configure-strategy")).to_have_value(MR)
    for param, expression in form.params.items():
        expect(param_input(page, MR, param)).to_have_value(expression)
    for selector, value in form.fields.items():
        expect(page.locator(selector)).to_have_value(value)
    expect(page.locator("#configure-factors")).to_contain_text(form.factor)
    expect(page.locator("#configure-data-source")).to_have_value(form.data_source)
    expect(page.locator("#configure-name")).to_have_value(form.name)
    expect(page.locator("#configure-grid-summary")).to_have_text(form.grid_summary)


def deploy_to_completion(page: Page) -> list[str]:
    """Click Deploy and wait for the finished panel: 100 %, every step ticked. The live labels seen."""
    record_texts(page, "deployLabels", "#deploy-live", "#deploy-live .progress-bar")
    panel = deploy_and_wait(page, DEPLOY_TIMEOUT_MS)
    expect(panel.locator("li.bt-deploy-step")).to_have_count(DEPLOY_STEPS)
    labels = recorded_texts(page, "deployLabels")
    # The background job reported its steps as it went, before the final result replaced them.
    assert any(re.fullmatch(rf"[0-4] of {DEPLOY_STEPS}", label) for label in labels), labels
    return labels


def configure_and_save(page: Page, url: str, form: SweepForm) -> None:
    """From the empty form: fill it, save the sweep, see it in the stepper and its DAG in the preview."""
    page.goto(url + "/")
    expect(page.locator("#shell-connection")).to_contain_text("Connected")
    fill_form(page, form)
    save_sweep(page, form.name)
    expect(page.locator("#shell-stepper")).to_contain_text(form.name)
    page.click("#configure-preview-toggle")
    expect(page.locator("#configure-preview")).to_contain_text("create_sweep_dag")


def deploy_and_trigger(page: Page, url: str) -> str:
    """Deploy, then Trigger, from the Deploy page; the run id the app shows."""
    page.click("text=Go to Deploy")
    expect(page).to_have_url(url + "/deploy")
    expect(page.locator("#deploy-summary")).to_contain_text("Not deployed")
    expect(page.locator("#deploy-trigger")).to_be_disabled()
    expect(page.locator("#deploy-summary")).to_contain_text("6 symbols")
    expect(page.locator("#deploy-preflight")).to_contain_text("checks pass")
    expect(page.locator("#deploy-preflight .bt-check-row-bad")).to_have_count(0)
    expect(page.locator("#deploy-preflight .bt-check-row-warn")).to_contain_text("not evidence")
    deploy_to_completion(page)
    expect(page.locator("#deploy-summary")).to_contain_text("Deployed")
    expect(page.locator("#deploy-trigger")).to_be_enabled()
    page.click("#deploy-trigger")
    result = page.locator("#deploy-trigger-result")
    expect(result).to_contain_text("Run started.")
    run_id = result.locator(".bt-mono").inner_text()
    assert re.fullmatch(r"bt_\d{6}_\d{6}[b-e]?", run_id), run_id  # the app's short run id
    expect(page.locator("#shell-stepper")).to_contain_text("watch the latest run")
    expect(page.locator("#deploy-summary")).to_contain_text(f"1 (latest {run_id})")
    return run_id


def watch_the_run(page: Page, url: str, form: SweepForm, run_id: str) -> None:
    """The Monitor page follows the run to success with no clicks: the page's interval brings every update."""
    page.click("text=Open in Monitor")
    expect(page).to_have_url(url + f"/monitor/{form.name}")
    header = page.locator("#monitor-run-header")
    expect(header).to_contain_text(run_id)
    record_texts(page, "runStates", "#monitor-run-header", "#monitor-run-header .bt-state-badge")
    expect(header.locator(".bt-state-badge")).to_have_text("success", timeout=RUN_TIMEOUT_MS)
    expect(kpi_value(page, "Points")).to_have_text(str(form.points))
    expect(kpi_value(page, "Done")).to_have_text(str(form.points))
    expect(kpi_value(page, "Failed")).to_have_text("0")
    expect(page.locator("#monitor-kpis")).to_contain_text("100.0% of the grid")
    expect(page.locator("#monitor-summary")).to_contain_text(f"{form.points} points done, 0 failed.")
    expect(page.locator("#monitor-heatmap .heatmaplayer")).to_have_count(1)
    expect(page.locator("#monitor-stale")).to_be_empty()
    expect(page.locator("#monitor-labels")).to_contain_text("synthetic data — not evidence")
    states = recorded_texts(page, "runStates")
    assert states[-1] == "success" and len(states) > 1, f"the header never updated by itself: {states}"


def check_overview_and_connections(page: Page, url: str, form: SweepForm, airflow_url: str) -> None:
    """The overview lists the finished sweep; the Connections page checks pass against this Airflow."""
    page.goto(url + "/monitor")
    row = page.locator("#monitor-overview tr", has_text=form.name)
    expect(row).to_contain_text("success")
    snap(page, "real-monitor")
    page.goto(url + "/connections")
    expect(page.locator("#connections-checks")).to_contain_text("checks pass")
    expect(page.locator("#connections-checks")).to_contain_text(airflow_url)


def test_real_flow_from_an_empty_form_to_a_finished_sweep(real_app_url, watched_page, airflow_stack):
    form = SweepForm(name=unique_name("e2e_real"))
    page, watch = watched_page(real_app_url)
    try:
        configure_and_save(page, real_app_url, form)
        snap(page, "real-configure")
        watch.check()

        run_id = deploy_and_trigger(page, real_app_url)
        snap(page, "real-deploy")
        watch.check()

        watch_the_run(page, real_app_url, form, run_id)
        snap(page, "real-monitor-sweep")
        watch.check()

        check_overview_and_connections(page, real_app_url, form, airflow_stack.airflow_url)
        snap(page, "real-connections")
        watch.check()

        # The form as it was typed, after going back and reloading.
        page.goto(real_app_url + "/")
        page.reload()
        assert_form(page, form)
        snap(page, "real-configure-reloaded")
        watch.check()
    finally:
        remove_dag_file(airflow_stack, form.name)


def test_gunicorn_two_workers_share_the_registry_and_background_deploys(
    gunicorn_app: GunicornApp, watched_page, airflow_stack
):
    name = unique_name("e2e_gunicorn")
    try:
        # Saved from one browser...
        author, author_watch = watched_page(gunicorn_app.url)
        author.goto(gunicorn_app.url + "/")
        choose_strategy(author, MR)
        type_into(author, param_input(author, MR, "lookback_period"), "10,20")
        save_sweep(author, name)
        author_watch.check()

        # ...deployed from another (nothing in its localStorage: the sweep comes from the registry).
        deployer, deployer_watch = watched_page(gunicorn_app.url)
        deployer.goto(gunicorn_app.url + "/deploy")
        expect(deployer.locator("#deploy-summary")).to_contain_text("No sweep selected")
        deployer.select_option("#deploy-pick", name)
        expect(deployer.locator("#deploy-summary")).to_contain_text("Not deployed")
        expect(deployer.locator("#deploy-trigger")).to_be_disabled()
        expect(deployer.locator("#shell-stepper")).to_contain_text(name)
        deploy_to_completion(deployer)
        expect(deployer.locator("#deploy-summary")).to_contain_text("Deployed")
        expect(deployer.locator("#deploy-trigger")).to_be_enabled()
        deployer_watch.check()

        # The author's browser sees the deploy another worker recorded.
        author.goto(gunicorn_app.url + "/deploy")
        expect(author.locator("#deploy-summary")).to_contain_text("Deployed")
        author_watch.check()
    finally:
        remove_dag_file(airflow_stack, name)

    workers = gunicorn_app.worker_pids_serving("/_dash-update-component")
    assert len(workers) == 2, f"callbacks were served by {workers}: expected both workers"
    # The deploy job's progress was polled (by cacheKey) from the shared diskcache, whichever worker answered.
    assert gunicorn_app.worker_pids_serving("&cacheKey="), "no background-job polls"
