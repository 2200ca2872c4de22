"""The app factory, `python app.py`, the stepper and the connection indicator."""

from __future__ import annotations

import subprocess
import sys

import dash
import pytest

from components.stepper import step_states
from services.models import CheckResult
from services.settings import PROJECT_ROOT
from tests.fakes import use_fake_services
from tests.support.sweeps import small_sweep


@pytest.fixture
def services(tmp_path):
    return use_fake_services(tmp_path)


def statuses(record) -> dict[str, str]:
    return {step.key: step.status for step in step_states(record)}


def test_create_app_registers_every_page_and_does_no_io(services):
    from tests.fakes import _app

    app = _app[0]
    paths = {page["path"] for page in dash.page_registry.values()}

    assert {"/", "/deploy", "/monitor", "/connections"} <= paths
    assert app.title == "Backtest Frontend"
    assert app.config.external_stylesheets == []
    assert services.connections.calls == 0  # nothing is checked until a page asks


def test_navbar_lists_every_page_in_its_order(services):
    from components.shell import make_navbar

    links = [node for node in make_navbar()._traverse() if getattr(node, "class_name", None) == "bt-nav-link"]

    assert [(link.children, link.href) for link in links] == [
        ("Configure", "/"),
        ("Deploy", "/deploy"),
        ("Monitor", "/monitor"),
        ("Sweeps", "/sweeps"),
        ("Results", "/results"),
        ("Wall", "/wall"),
        ("Connections", "/connections"),
    ]
    assert {link.href: link.active for link in links}["/monitor"] == "partial"  # /monitor/<sweep> too
    assert {link.href: link.active for link in links}["/sweeps"] == "exact"
    assert len({page["order"] for page in dash.page_registry.values()}) == len(dash.page_registry)


def test_monitor_page_takes_a_sweep_from_the_path(services):
    page = next(p for p in dash.page_registry.values() if p["path"] == "/monitor")

    assert page["path_template"] == "/monitor/<sweep>"
    assert "monitor-overview" in str(page["layout"]())
    assert "monitor-kpis" in str(page["layout"](sweep="mr_spy"))


def test_stepper_follows_the_record(services):
    registry = services.registry

    assert statuses(None) == {
        "create": "current",
        "deploy": "locked",
        "trigger": "locked",
        "monitor": "locked",
    }
    saved = registry.save(small_sweep(name="mr_spy"))
    assert statuses(saved)["deploy"] == "current" and statuses(saved)["trigger"] == "locked"
    deployed = registry.record_deploy("mr_spy", saved.config.spec_hash)
    assert statuses(deployed) == {
        "create": "done",
        "deploy": "done",
        "trigger": "current",
        "monitor": "open",  # deployed: runs started outside the app show on Monitor too
    }
    run = registry.record_run("mr_spy", "manual__1")
    assert statuses(run) == {"create": "done", "deploy": "done", "trigger": "done", "monitor": "current"}
    assert step_states(run)[3].href == "/monitor/mr_spy"


def test_stepper_asks_for_a_redeploy_when_the_spec_changed(services):
    services.registry.save(small_sweep(name="mr_spy"))
    services.registry.record_deploy("mr_spy", "an-older-hash")
    changed = services.registry.record_run("mr_spy", "manual__1")

    steps = {s.key: s for s in step_states(changed)}

    assert steps["deploy"].status == "current" and "redeploy" in steps["deploy"].note
    assert steps["trigger"].status == "locked"
    assert steps["monitor"].status == "open"  # the earlier runs can still be watched


def test_stepper_callback_reads_the_current_sweep(services):
    from components.shell import refresh_stepper

    services.registry.save(small_sweep(name="mr_spy"))

    assert "mr_spy" in str(refresh_stepper("mr_spy", None, 0).to_plotly_json())
    assert "no sweep selected" in str(refresh_stepper("not_saved", None, 0).to_plotly_json())


def test_connection_indicator_is_green_or_names_what_fails(services):
    from components.shell import connection_summary, refresh_connection

    assert connection_summary([CheckResult(key="a", label="Airflow API", ok=True)]) == (True, "Connected")
    services.connections.failing = {"airflow_api": "connection refused"}
    children, _title = refresh_connection(0)

    assert "bt-dot-bad" in str(children) and "Airflow API: failing" in str(children)


def test_connection_checks_are_cached(services):
    services.connection_status.checks(60)
    services.connection_status.checks(60)
    assert services.connections.calls == 1
    services.connection_status.checks(60, force=True)  # the Connections page's Refresh
    assert services.connections.calls == 2


def test_python_app_py_with_bad_settings_prints_each_key_and_exits_2():
    env = {"PATH": "/usr/bin:/bin", "PORT": "0", "REFRESH_INTERVAL_S": "0", "HOME": "/tmp"}

    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(line.strip().startswith("PORT:") for line in lines)
    assert any(line.strip().startswith("REFRESH_INTERVAL_S:") for line in lines)
    assert "Traceback" not in result.stderr
