"""The sweep page's progress charts and runs comparison, and the Progress / Results sub-navigation."""

from __future__ import annotations

from collections import Counter
from contextvars import copy_context
from datetime import datetime, timedelta

import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

from components.figures import RUN_COLORS
from components.sweep_nav import make_sweep_nav
from tests.fakes import use_fake_services_with_a_run


@pytest.fixture
def services(tmp_path):
    return use_fake_services_with_a_run(tmp_path)


def age_first_run(services, minutes: float) -> None:
    """Move the sweep's first run back in time (fake run ids are start seconds)."""
    config = services.registry.get("mr_spy").config

    def age_first(data: dict) -> None:
        first = data["runs"][config.dag_id][0]
        start = datetime.fromisoformat(first["start_date"]) - timedelta(minutes=minutes)
        first["start_date"], first["run_id"] = start.isoformat(), f"manual__{start:%Y%m%dT%H%M%S}"

    services.runs.state.update(age_first)


def second_run(services) -> str:
    """Trigger the sweep again; the first run moves a minute back."""
    config = services.registry.get("mr_spy").config
    age_first_run(services, 1)
    run = services.runs.trigger(config)
    services.registry.record_run("mr_spy", run.run_id)
    return run.run_id


def triggered(prop_id: str | None, callback, *args):
    """Call a callback as Dash would after `prop_id` changed (None: when the page opens)."""
    inputs = [{"prop_id": prop_id, "value": None}] if prop_id else []

    def call():
        context_value.set(AttributeDict(triggered_inputs=inputs))
        return callback(*args)

    return copy_context().run(call)


def nodes(tree) -> list[dict]:
    """Every component of a layout tree, as {"type": ..., "props": ...}."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if hasattr(node, "to_plotly_json"):
            node = node.to_plotly_json()
        if isinstance(node, dict) and "props" in node:
            found.append(node)
            stack.append(node["props"].get("children"))
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return found


def ids(tree) -> list[str]:
    return [n["props"]["id"] for n in nodes(tree) if isinstance(n["props"].get("id"), str)]


def nav_links(tree) -> list[tuple[str, str, bool]]:
    links = [n["props"] for n in nodes(tree) if n["type"] == "NavLink"]
    return [(link["children"], link["href"], link["active"]) for link in links]


def test_progress_charts_come_with_the_polled_status(services):
    from pages.monitor import poll, show_progress

    services.monitor.fraction = 0.5
    age_first_run(services, 1)  # long enough for a rate, short of the 90-s fake run
    view = poll(0, "latest", "dark", "mr_spy")
    assert view["status"]["progress"]  # the samples travel in the status store

    coverage, rate = show_progress(view["status"], "dark")

    done, eta = coverage.data
    assert done.y[-1] == 3 and list(eta.y) == [3, 6]  # half of 6 points, the ETA line to the total
    assert rate.data and rate.data[0].type == "bar"


def test_a_finished_run_has_no_eta_line(services):
    from pages.monitor import poll, show_progress

    services.monitor.fraction = 1.0
    coverage, _rate = show_progress(poll(0, "latest", "light", "mr_spy")["status"], "light")
    assert len(coverage.data) == 1 and coverage.data[0].y[-1] == 6


def test_runs_comparison_is_hidden_for_one_run_and_drawn_for_two(services):
    from pages.monitor import show_runs

    figure, hidden = triggered(None, show_runs, 0, "latest", "light", "mr_spy")
    assert hidden is True

    services.monitor.fraction = 0.5
    newest = second_run(services)
    figure, hidden = triggered(None, show_runs, 0, "latest", "light", "mr_spy")
    assert hidden is False and len(figure.data) == 2
    # The newest run (the one "latest" follows) is highlighted, in the first run colour.
    widest = max(figure.data, key=lambda trace: trace.line.width)
    assert widest.line.color == RUN_COLORS[0] and newest in widest.hovertemplate


def test_runs_comparison_follows_a_slower_cadence_than_the_poll(services):
    from dash.exceptions import PreventUpdate

    from pages.monitor import COMPARE_EVERY_TICKS, runs_due, show_runs

    assert runs_due(None, 0)  # the first call, when the page opens
    assert runs_due("monitor-run", 3) and runs_due("shell-theme", 7)  # a change the user made
    due = [tick for tick in range(1, 13) if runs_due("monitor-interval", tick)]
    assert due == list(range(COMPARE_EVERY_TICKS, 13, COMPARE_EVERY_TICKS))
    second_run(services)
    with pytest.raises(PreventUpdate):
        triggered("monitor-interval.n_intervals", show_runs, 1, "latest", "light", "mr_spy")
    _figure, hidden = triggered(
        "monitor-interval.n_intervals", show_runs, COMPARE_EVERY_TICKS, "latest", "light", "mr_spy"
    )
    assert hidden is False


def test_runs_comparison_keeps_its_chart_when_airflow_is_down(services, monkeypatch):
    from dash.exceptions import PreventUpdate

    from pages.monitor import show_runs
    from services.errors import Unavailable

    def down(*_args, **_kwargs):
        raise Unavailable("Airflow is unreachable")

    monkeypatch.setattr(services.monitor, "run_progress", down)
    with pytest.raises(PreventUpdate):
        triggered(None, show_runs, 0, "latest", "light", "mr_spy")


def test_sweep_nav_links_both_pages_and_highlights_one():
    nav = make_sweep_nav("mr_spy", "results")
    assert sorted(nav_links(nav)) == [
        ("Progress", "/monitor/mr_spy", False),
        ("Results", "/results/mr_spy", True),
    ]
    assert nav.pills is True


def test_both_sweep_pages_carry_the_nav_and_unique_ids(services):
    from pages.monitor import layout as monitor_layout
    from pages.results import layout as results_layout

    monitor, results = monitor_layout(sweep="mr_spy"), results_layout(sweep="mr_spy")
    for tree, active in ((monitor, "Progress"), (results, "Results")):
        assert {(label, is_active) for label, _href, is_active in nav_links(tree)} == {
            ("Progress", active == "Progress"),
            ("Results", active == "Results"),
        }
    monitor_ids, results_ids = ids(monitor), ids(results)
    assert {"monitor-coverage-time", "monitor-throughput", "monitor-runs"} <= set(monitor_ids)
    assert not [i for i, n in Counter(monitor_ids + results_ids).items() if n > 1]
