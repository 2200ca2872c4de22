"""Wall, Sweeps and Results pages: their callbacks over fake services, asserted on what they render."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io

import dash
import pandas as pd
import pytest

from tests.fakes import use_fake_services
from tests.support.sweeps import small_sweep

MR_GRID = {
    "lookback_period": "10:30:3",
    "entry_threshold": "1.0,2.0",
    "stop_loss_pct": "0.02,0.05",
    "cooldown_period": "3",
}


@contextlib.contextmanager
def _triggered(component_id: str):
    """Run the block as a callback Dash calls after `component_id` was clicked."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    token = context_value.set(
        AttributeDict(triggered_inputs=[{"prop_id": f"{component_id}.n_clicks", "value": 1}])
    )
    try:
        yield
    finally:
        context_value.reset(token)


@pytest.fixture
def services(tmp_path):
    services = use_fake_services(tmp_path)
    for name, owner in (("mr_a", "ann"), ("mr_b", "bob")):
        config = small_sweep(name=name, owner=owner, params=MR_GRID)
        services.registry.save(config)
        services.deployer.deploy(config)
        services.registry.record_deploy(name, config.spec_hash)
        run = services.runs.trigger(config)
        services.registry.record_run(name, run.run_id)
    services.registry.save(small_sweep(name="never", owner="cy"))
    return services


def test_wall_layout_is_dark_and_keeps_the_url_filters(services) -> None:
    from pages.wall import WallIds, layout

    tree = layout(owner="bob", state="active").to_plotly_json()
    assert tree["props"]["data-bs-theme"] == "dark"
    store = tree["props"]["children"][0].to_plotly_json()
    assert store["props"]["id"] == WallIds.FILTER
    assert store["props"]["data"] == {"owner": "bob", "strategy": None, "state": "active"}
    assert layout(theme="light").to_plotly_json()["props"]["data-bs-theme"] == "light"


def test_wall_refresh_renders_one_tile_per_run_sweep_and_filters(services) -> None:
    from pages.wall import refresh

    services.monitor.fraction = 0.5
    tiles, summary, _clock, error = refresh(1, {})
    text = str([t.to_plotly_json() for t in tiles])
    assert error is None and len(tiles) == 2 and "mr_a" in text and "never" not in text
    assert "2 running" in str([s.to_plotly_json() for s in summary])
    tiles, *_ = refresh(2, {"owner": "bob"})
    assert len(tiles) == 1 and "mr_b" in str(tiles[0].to_plotly_json())


def test_history_rows_carry_the_latest_run_and_clone_link(services) -> None:
    from components.sweeps_view import selection_links
    from pages.sweeps import history_rows

    rows = {row["name"]: row for row in history_rows(services.registry.summaries())}
    assert set(rows) == {"mr_a", "mr_b", "never"}
    assert rows["never"]["last_state"] == "never run" and rows["never"]["deployed"] == "no"
    assert rows["mr_a"]["last_state"] == "running" and rows["mr_a"]["owner"] == "ann"
    assert rows["mr_a"]["grid_size"] == 12
    assert selection_links(rows["mr_a"])["clone"] == "/?clone=mr_a"


def test_history_rows_when_airflow_is_down_still_list_every_sweep(services, monkeypatch) -> None:
    from pages.sweeps import history_rows
    from services.errors import Unavailable

    def down(_configs):
        raise Unavailable("Airflow at http://127.0.0.1:1 is not answering")

    monkeypatch.setattr(services.runs, "latest_runs", down)
    rows = {row["name"]: row for row in history_rows(services.registry.summaries())}
    assert set(rows) == {"mr_a", "mr_b", "never"}
    assert rows["mr_a"]["last_state"] == rows["mr_b"]["last_state"] == "unavailable"
    assert rows["never"]["last_state"] == "never run"


def cells(tree) -> list[str]:
    """The text of every table cell and key/value entry of a component tree, in order."""
    found, stack = [], [tree.to_plotly_json()]
    while stack:
        node = stack.pop(0)
        if hasattr(node, "to_plotly_json"):
            node = node.to_plotly_json()
        if isinstance(node, list | tuple):
            stack[:0] = list(node)
        elif isinstance(node, dict) and "props" in node:
            children = node["props"].get("children")
            if node["type"] in ("Td", "Dt", "Dd") and isinstance(children, str):
                found.append(children)
            else:
                stack.insert(0, children)
    return found


def test_selected_sweep_shows_its_spec_grid_and_runs(services) -> None:
    from pages.sweeps import show_detail

    detail, hidden, current = show_detail([{"name": "mr_a"}], 0)
    text = cells(detail)
    assert hidden is False and current == "mr_a"  # the stepper follows the selected sweep
    assert {"12 points in 1 task", "backtest_mr_a", "ann"} <= set(text)
    grid = text[text.index("lookback_period") :][:8]
    assert grid == [*sum(MR_GRID.items(), ())]  # every parameter with its grid expression
    (run,) = services.runs.list_runs(services.registry.get("mr_a").config)
    assert text[-4:-1] == [run.run_id, "running", run.start_date.astimezone().strftime("%Y-%m-%d %H:%M")]
    assert "No runs yet." in str(show_detail([{"name": "never"}], 0)[0].to_plotly_json())
    assert show_detail([], 0)[:2] == (None, True)


def test_selected_sweep_with_airflow_down_lists_the_recorded_runs(services, monkeypatch) -> None:
    from pages.sweeps import show_detail
    from services.errors import Unavailable

    def down(_config, limit=20):
        raise Unavailable("Airflow at http://127.0.0.1:1 is not answering")

    monkeypatch.setattr(services.runs, "list_runs", down)
    text = cells(show_detail([{"name": "mr_b"}], 0)[0])
    recorded = services.registry.get("mr_b").run_ids
    assert text[-4:] == [recorded[0], "unavailable", "", ""]
    assert "Strategy" in text  # the spec still shows


def test_a_confirmed_action_runs_once_however_often_the_confirmation_arrives(services) -> None:
    from components import context
    from pages.sweeps import confirm
    from services.auth import local_principal
    from services.models import RunSummary

    started: list[str] = []

    class Actions:
        def trigger(self, principal, name):
            started.append(name)
            return RunSummary(run_id=f"bt_{len(started)}", state="queued")

    context.configure(services.settings, dataclasses.replace(services, actions=Actions()))
    token = services.pending.create(local_principal(), "retrigger", "mr_a")

    alert, is_open, touched = confirm(1, {"token": token}, 0)
    again, _, touched_again = confirm(2, {"token": token}, touched)  # a double click: the same token again
    confirm(3, {"token": services.pending.create(local_principal(), "retrigger", "mr_a")}, touched)

    assert started == ["mr_a", "mr_a"] and is_open is False
    assert "Started run bt_1 of mr_a" in str(alert.to_plotly_json())
    assert "Nothing was done." in str(again.to_plotly_json()) and touched_again is dash.no_update


def test_a_confirmation_is_only_a_token_the_server_knows(services) -> None:
    from pages.sweeps import confirm

    for forged in ({"token": "made-up"}, {"action": "cancel", "name": "mr_a", "run_id": "r"}, {"token": 7}):
        alert, _is_open, touched = confirm(1, forged, 0)
        assert "Nothing was done." in str(alert.to_plotly_json()) and touched is dash.no_update
    assert services.runs.list_runs(services.registry.get("mr_a").config)[0].state != "failed"


def test_ask_keeps_the_pending_action_on_the_server_and_hands_out_only_a_token(services) -> None:
    from components.sweeps_layout import SweepsIds
    from pages.sweeps import ask

    rows = [{"name": "mr_a", "last_run_id": services.registry.get("mr_a").run_ids[0]}]
    with _triggered(SweepsIds.CANCEL):
        view = ask(None, None, 1, None, rows)
    assert set(view["pending"]) == {"token"} and view["open"] and not view["disabled"]
    assert view["label"] == "Cancel run"


def test_a_failing_sweep_action_says_why_in_an_alert(services) -> None:
    from pages.sweeps import confirm
    from services.auth import local_principal

    token = services.pending.create(local_principal(), "cancel", "mr_a", "r")
    alert, is_open, touched = confirm(1, {"token": token}, 0)
    text = str(alert.to_plotly_json())
    assert is_open is False and "Cancel run failed." in text and "has no run r" in text
    assert touched is dash.no_update  # nothing changed: the history is not re-read


def test_configure_clones_the_sweep_named_in_the_url(services) -> None:
    from pages.configure import clone_from_url

    draft, apply_count, alert = clone_from_url("mr_a", 0)
    assert draft["name"] == "mr_a_copy" and draft["strategy"] == "MeanReversionStrategy"
    assert apply_count == 1 and alert is None


def test_results_page_heatmap_top_n_and_export_follow_the_table(services) -> None:
    from pages.results import export_file, load, open_sweep, show_heatmap, show_points

    services.monitor.fraction = 1.0
    view = open_sweep("mr_a")
    run_options, run_id, x, y = view["runs"], view["run"], view["x"], view["y"]
    fixed, error, current = view["fixed"], view["error"], view["current"]
    assert current == "mr_a"  # the stepper follows the sweep being read
    assert (
        error is None
        and run_id == run_options[0]["value"]
        and (x, y) == ("lookback_period", "entry_threshold")
    )
    assert len(fixed) == 4
    config = services.registry.get("mr_a").config
    table = services.results.table(config, run_id)
    data, count, metrics, labels = load(run_id, 0, "mr_a", None)
    assert data == {"run_id": run_id, "rows": len(table)} and f"{len(table)} of 12" in count
    assert "synthetic data — not evidence" in str(labels.to_plotly_json())  # mr_a chooses no source
    assert {"label": "Sharpe", "value": "sharpe"} in metrics

    fig = show_heatmap(data, "sharpe", x, y, "best", [], "raw", [], "light", "mr_a")
    expected = table.groupby([y, x])["sharpe"].max()
    assert fig.data[0].z[0][0] == pytest.approx(expected.iloc[0])
    old_page = show_heatmap(
        data, "sharpe", x, y, "max", [], "raw", [], "light", "mr_a"
    )  # loaded before "best"
    assert old_page.data[0].z[0][0] == pytest.approx(expected.iloc[0])
    assert "best (max)" in old_page.data[0].hovertemplate
    _parcoords, rows, _columns, _note = show_points(data, "sharpe", "full", "light", "mr_a")
    assert rows[0]["sharpe"] == pytest.approx(table["sharpe"].max())

    csv = export_file("mr_a", data, "csv")  # the table, then the validation report's per-point columns
    exported = pd.read_csv(io.BytesIO(base64.b64decode(csv["content"])))
    pd.testing.assert_frame_equal(exported[list(table.columns)], table, check_dtype=False)
    parquet = export_file("mr_a", data, "parquet")
    assert parquet["filename"].endswith(".parquet")
    from_parquet = pd.read_parquet(io.BytesIO(base64.b64decode(parquet["content"])))
    pd.testing.assert_frame_equal(from_parquet[list(table.columns)], table)


def test_results_page_with_airflow_down_lists_the_recorded_runs(services, monkeypatch) -> None:
    from pages.results import open_sweep
    from services.errors import Unavailable

    def down(_config, limit=20):
        raise Unavailable("Airflow at http://127.0.0.1:1 is not answering")

    monkeypatch.setattr(services.runs, "list_runs", down)
    view = open_sweep("mr_a")
    run_options, run_id, notice, current = view["runs"], view["run"], view["error"], view["current"]
    assert run_id == services.registry.get("mr_a").run_ids[0] and current == "mr_a"
    assert run_options == [{"label": f"{run_id} · state unknown", "value": run_id}]
    assert "Airflow is not answering" in str(notice.to_plotly_json())
