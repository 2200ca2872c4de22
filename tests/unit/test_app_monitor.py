"""Monitor page: overview rows, the live dashboard, stale data, the completion summary, results download."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.models import PointState, SweepStatus
from tests.fakes import use_fake_services_with_a_run
from tests.support.sweeps import small_sweep


@pytest.fixture
def services(tmp_path):
    return use_fake_services_with_a_run(tmp_path)


def poll_at(services, fraction: float, theme: str = "light") -> dict:
    """The Monitor page's poll of the sweep `mr_spy` whose latest run has `fraction` of its points done."""
    from pages.monitor import poll

    services.monitor.fraction = fraction
    return poll(0, "latest", theme, "mr_spy")


def test_stale_status_shows_a_yellow_banner_with_time_and_reason(services):
    services.monitor.stale_reason = "Airflow API: connection refused"

    view = poll_at(services, 0.5)

    banner = view["stale"].to_plotly_json()
    assert banner["props"]["color"] == "warning"
    text = str(banner)
    assert "Last updated" in text and "Airflow API: connection refused" in text
    stamp = SweepStatus.model_validate(view["status"]).fetched_at.astimezone().strftime("%H:%M:%S")
    assert stamp in text


def test_fresh_status_has_no_banner_and_kpis_count_the_points(services):
    view = poll_at(services, 0.5)

    assert view["stale"] is None
    kpis = str(view["kpis"].to_plotly_json())
    assert "'Points'" in kpis and "'6'" in kpis
    assert view["summary_hidden"] is True
    runs = view["status"]["point_states"]  # the browser never receives a per-point list: runs of states
    assert sum(count for _state, count in runs) == 6 and len(runs) <= len(PointState)


def test_finished_run_shows_the_best_points_by_sharpe(services):
    view = poll_at(services, 1.0, theme="dark")

    assert view["summary_hidden"] is False
    table = str(view["summary"].to_plotly_json())
    assert "lookback_period" in table and "Sharpe" in table
    assert "6 points done, 0 failed." in table


def test_task_chart_uses_the_shared_colours(services):
    from components.states import STATE_STYLES
    from services.airflow.models import TaskState

    bar = poll_at(services, 0.5)["tasks"].data[0]

    styles = {style.label: style.color for style in STATE_STYLES[TaskState].values()}
    assert dict(zip(bar.y, bar.marker.color, strict=True)) == {label: styles[label] for label in bar.y}
    assert {"Success", "Running"} <= set(bar.y)


def test_unknown_sweep_shows_an_alert_not_a_traceback(services):
    from pages.monitor import open_sweep, poll

    alert = open_sweep("nope")["error"]
    view = poll(0, "latest", "light", "nope")

    assert "no saved sweep named 'nope'" in str(alert.to_plotly_json())
    assert "no saved sweep named 'nope'" in str(view["stale"].to_plotly_json())


def test_open_sweep_lists_runs_and_picks_the_widest_axes(services):
    from pages.monitor import open_sweep

    view = open_sweep("mr_spy")
    runs, x_options, x, y, current, error = (
        view[k] for k in ("runs", "x_options", "x", "y", "current", "error")
    )

    assert runs[0]["value"] == "latest" and len(runs) == 2
    assert [o["value"] for o in x_options][:2] == ["lookback_period", "entry_threshold"]
    assert (x, y) == ("lookback_period", "entry_threshold")  # 3 and 2 values; the others have 1
    assert current == "mr_spy" and error is None


def test_selected_run_follows_the_latest_unless_one_is_picked():
    from pages.monitor import selected_run

    assert selected_run("latest") is None and selected_run("") is None
    assert selected_run("manual__1") == "manual__1"


def test_overview_lists_sweeps_with_their_latest_run(services):
    from pages.monitor import show_overview

    services.registry.save(small_sweep(name="never_run"))

    table = str(show_overview(0).to_plotly_json())

    assert "/monitor/mr_spy" in table and "/monitor/never_run" in table
    assert "never run" in table and "running" in table


def test_overview_asks_airflow_once_and_survives_it_being_down(services, monkeypatch):
    from pages.monitor import overview_rows
    from services.errors import Unavailable

    services.registry.save(small_sweep(name="never_run"))
    calls = []
    original = services.runs.latest_runs
    monkeypatch.setattr(
        services.runs, "latest_runs", lambda configs: calls.append(configs) or original(configs)
    )
    rows = {row.name: row for row in overview_rows(services.registry.list())}
    assert len(calls) == 1 and [c.name for c in calls[0]] == ["mr_spy"]  # only sweeps that ran
    assert rows["mr_spy"].latest is not None and rows["never_run"].latest is None

    def down(_configs):
        raise Unavailable("Airflow is not answering")

    monkeypatch.setattr(services.runs, "latest_runs", down)
    rows = {row.name: row for row in overview_rows(services.registry.list())}
    assert rows["mr_spy"].problem == "Airflow unavailable" and rows["never_run"].problem == ""


def test_heatmap_switches_between_coverage_and_a_result_metric(services):
    from pages.monitor import heatmap_figure

    services.monitor.fraction = 1.0
    config = services.registry.get("mr_spy").config
    status = services.monitor.status(config)

    coverage = heatmap_figure(config, status, "coverage", "lookback_period", "entry_threshold", "light")
    sharpe = heatmap_figure(config, status, "sharpe", "lookback_period", "entry_threshold", "light")

    assert coverage.data[0].z.max() == 1.0
    assert sharpe.data[0].colorbar.title.text == "sharpe"


def test_the_heatmap_is_drawn_from_the_polled_status_without_asking_again(services):
    from pages.monitor import heatmap_figure, show_heatmap

    config = services.registry.get("mr_spy").config
    view = poll_at(services, 0.5)
    services.monitor.fraction = 1.0  # a second status call would now see every point done

    shown = show_heatmap(view["status"], "coverage", "lookback_period", "entry_threshold", "light", "mr_spy")
    polled = SweepStatus.model_validate(view["status"])
    expected = heatmap_figure(config, polled, "coverage", "lookback_period", "entry_threshold", "light")
    assert shown.data[0].z.tolist() == expected.data[0].z.tolist()
    assert shown.data[0].z.min() < 1.0  # the half-done status, not a fresh one


def test_download_sends_the_results_table_as_csv(services):
    from pages.monitor import download

    status = poll_at(services, 1.0)["status"]

    sent, error = download(1, status, "mr_spy")

    assert error is None
    assert sent["filename"].startswith("mr_spy_manual__") and sent["filename"].endswith(".csv")
    assert "sharpe" in sent["content"].splitlines()[0]


def test_kpis_show_elapsed_and_eta(services):
    from components.formatting import format_duration
    from components.monitor_view import make_kpis

    status = SweepStatus(
        dag_id="d",
        points_total=4,
        point_states=[PointState.DONE, PointState.FAILED, PointState.RUNNING, PointState.NOT_STARTED],
        elapsed_s=125,
        eta_s=3700,
        fetched_at=datetime.now(UTC),
    )

    text = str(make_kpis(status).to_plotly_json())

    assert "2 m 05 s" in text and "1 h 01 m" in text and "25.0% of the grid" in text
    assert format_duration(None) == "—"
