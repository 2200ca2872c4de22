"""Deploy page: summary, preflight, the deployment job with its progress, cancel, and Trigger."""

from __future__ import annotations

import pytest

from services.models import StepState
from tests.fakes import use_fake_services
from tests.support.sweeps import small_sweep


@pytest.fixture
def services(tmp_path):
    services = use_fake_services(tmp_path)
    services.registry.save(small_sweep(name="mr_spy"))
    return services


def test_summary_enables_deploy_and_waits_for_it_before_trigger(services):
    from pages.deploy import summary_view

    before = summary_view(services.registry.get("mr_spy"))
    services.registry.record_deploy("mr_spy", small_sweep(name="mr_spy").spec_hash)
    after = summary_view(services.registry.get("mr_spy"))
    nothing = summary_view(None)

    assert (before["deploy_disabled"], before["trigger_disabled"]) == (False, True)
    assert "Not deployed" in str(before["summary"].to_plotly_json())
    assert "6 points in 1 task" in str(before["summary"].to_plotly_json())
    assert (after["deploy_disabled"], after["trigger_disabled"]) == (False, False)
    assert nothing["deploy_disabled"] and nothing["trigger_disabled"]


def test_preflight_lists_the_deployers_checks(services):
    from pages.deploy import show_preflight

    services.deployer.refuse = "DAG id backtest_mr_spy is already defined by other.py"

    rendered = str(show_preflight("mr_spy", None).to_plotly_json())

    assert "1 of 4 checks fail." in rendered  # the deployer's three, then the market data's
    assert "choose another sweep name" in rendered
    assert "chooses no data source" in rendered  # a spec saved without one: flagged, not failed


def test_deploy_reports_every_step_and_records_the_deploy(services):
    from pages.deploy import run_deploy

    reports = []

    result = run_deploy("mr_spy", "session", 1, reports.append)

    assert result.ok and result.finished
    assert [s.state for s in result.steps] == [StepState.DONE] * 5
    assert reports[0].fraction == 0 and any(0 < r.fraction < 1 for r in reports)
    assert services.registry.get("mr_spy").deployed_hash == small_sweep(name="mr_spy").spec_hash


def test_an_import_error_is_shown_with_its_message_and_nothing_is_recorded(services):
    from pages.deploy import panel_view, run_deploy

    services.deployer.import_error = "ModuleNotFoundError: No module named 'pandas_ta'"

    result = run_deploy("mr_spy", "session", 1, lambda _p: None)
    panel = str(panel_view(result.model_dump(mode="json"), "mr_spy")[0].to_plotly_json())

    assert not result.ok
    assert result.step("register").state == StepState.FAILED
    assert "Deployment failed." in panel and "No module named 'pandas_ta'" in panel
    assert services.registry.get("mr_spy").deployed_hash is None


def test_a_refused_deploy_ends_with_the_reason(services):
    from pages.deploy import run_deploy

    services.deployer.refuse = "DAG id backtest_mr_spy is already defined by other.py; it is left untouched"

    result = run_deploy("mr_spy", "session", 1, lambda _p: None)

    assert result.finished and not result.ok
    assert result.error == services.deployer.refuse


def test_cancel_stops_the_deploy_at_the_next_step(services):
    from pages.deploy import cancel, run_deploy

    run_deploy("mr_spy", "before", 1, lambda _p: None)
    alert = cancel(1, "session", 3, "mr_spy")
    assert services.actions.last_deploy("mr_spy").progress.ok  # a finished deploy stays as it was
    result = run_deploy("mr_spy", "session", 3, lambda _p: None)
    other_click = run_deploy("mr_spy", "session", 4, lambda _p: None)

    assert "cancelled" in str(alert.to_plotly_json())
    assert not result.ok and result.error == "cancelled"
    assert other_click.ok  # a flag belongs to one click of one page load
    assert services.flags.has("deploy-cancel:session:3")


def test_cancel_records_the_running_deploy_as_cancelled_for_every_page(services):
    from pages.deploy import cancel, run_deploy

    seen = []

    def report(progress) -> None:  # Dash stops the job at the cancel: what the record says then
        if 0 < progress.fraction < 1 and not seen:
            cancel(1, "session", 1, "mr_spy")
            seen.append(services.actions.last_deploy("mr_spy").progress)

    run_deploy("mr_spy", "session", 2, report)

    assert seen[0].finished and not seen[0].ok and seen[0].error == "cancelled"


def test_panel_shows_the_steps_to_come_for_another_sweeps_result(services):
    from pages.deploy import panel_view

    other = {"dag_id": "backtest_other", "steps": [], "finished": True, "ok": True}

    panel, follow = panel_view(other, "mr_spy")
    rendered = str(panel.to_plotly_json())

    assert "0 of 5" in rendered and "Render DAG file, check the id is free" in rendered
    assert follow is False


def test_another_page_load_follows_a_running_deploy_then_shows_its_outcome(services):
    from pages.deploy import panel_view, run_deploy, summary_view

    seen_while_running = []
    summaries_while_running = []

    def report(progress) -> None:  # what a page opened elsewhere shows while this deploy runs
        if 0 < progress.fraction < 1:
            panel, follow = panel_view(None, "mr_spy")
            seen_while_running.append((str(panel.to_plotly_json()), follow))
            summaries_while_running.append(summary_view(services.registry.get("mr_spy")))

    assert run_deploy("mr_spy", "session", 1, report).ok
    panel, follow = panel_view(None, "mr_spy")
    rendered = str(panel.to_plotly_json())

    assert seen_while_running and all(follow for _text, follow in seen_while_running)
    assert "Deployment in progress, started by " in seen_while_running[0][0]
    assert "Last deployment, started by " in rendered and "5 of 5" in rendered
    assert follow is False
    assert all(view["deploy_disabled"] and view["trigger_disabled"] for view in summaries_while_running)
    assert "A deployment of this sweep is running" in summaries_while_running[0]["hint"]
    after = summary_view(services.registry.get("mr_spy"))
    assert not after["deploy_disabled"] and not after["trigger_disabled"] and after["hint"] == ""


def test_trigger_records_the_run_and_links_to_monitor(services):
    from pages.deploy import run_deploy, trigger

    run_deploy("mr_spy", "session", 1, lambda _p: None)

    result, _touched = trigger(1, "mr_spy")

    run_id = services.registry.get("mr_spy").run_ids[0]
    rendered = str(result.to_plotly_json())
    assert run_id.startswith("manual__") and run_id in rendered
    assert "/monitor/mr_spy" in rendered
    assert f"http://fake-airflow/dags/backtest_mr_spy/runs/{run_id}" in rendered


def test_trigger_before_deploy_shows_the_reason(services):
    from pages.deploy import trigger

    result, _touched = trigger(1, "mr_spy")

    assert "Run not started." in str(result.to_plotly_json())
    assert "is not deployed" in str(result.to_plotly_json())
    assert services.registry.get("mr_spy").run_ids == []
