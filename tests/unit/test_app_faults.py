"""Pages under faults: the wall while Airflow fails or its cache is damaged, damaged records in History."""

from __future__ import annotations

import pytest
from dash.exceptions import PreventUpdate

from tests.fakes import use_fake_services
from tests.support.faults import aside_folders, corrupt_cache, in_new_thread
from tests.support.sweeps import small_sweep

AIRFLOW_500 = "Airflow answered HTTP 500: Internal Server Error"


@pytest.fixture
def services(tmp_path):
    services = use_fake_services(tmp_path)
    for name in ("mr_a", "mr_b"):
        config = small_sweep(name=name)
        services.registry.save(config)
        services.deployer.deploy(config)
        services.registry.record_run(name, services.runs.trigger(config).run_id)
    return services


def text(component) -> str:
    if isinstance(component, list):
        return " ".join(text(item) for item in component)
    return str(component.to_plotly_json())


# ---------------------------------------------------------------------------- the wall


def test_the_wall_with_a_failing_airflow_says_so_and_never_reads_0_sweeps(services) -> None:
    from pages.wall import refresh

    services.monitor.fail(AIRFLOW_500)
    tiles, summary, _clock, banner = refresh(1, {})

    assert banner is not None and "Airflow unreachable since" in text(banner)
    assert AIRFLOW_500 in text(banner) and "2 tiles show the last known state or none" in text(banner)
    assert "0 on the wall" not in text(summary) and "No active" not in text(tiles)
    assert text(tiles).count("status unknown") == 2 and text(tiles).count("progress unknown") == 2
    assert "2 unknown since" in text(summary) and "0 running" not in text(summary)

    services.monitor.recover()
    assert services.wall.view(period_s=0.001).outage is None  # a new period: a fresh board


def test_an_empty_wall_during_an_outage_says_which_sweeps_run_is_unknown() -> None:
    from datetime import UTC, datetime

    from components.wall_view import make_outage_summary, make_tiles
    from services.wall import WallOutage

    outage = WallOutage(since=datetime(2026, 12, 3, 10, 42, tzinfo=UTC), reason=AIRFLOW_500, stale_tiles=0)
    shown = text(make_tiles([], outage))
    since = outage.since.astimezone().strftime("%H:%M")
    assert f"Airflow unreachable since {since} — {AIRFLOW_500}" in shown and "unknown" in shown
    assert f"sweeps unknown since {since}" in text(make_outage_summary(outage, []))


def test_the_wall_survives_its_cache_damaged_while_it_runs(services, tmp_path) -> None:
    from pages.wall import refresh

    refresh(1, {})
    corrupt_cache(services.settings.cache_dir / "wall")

    tiles, _summary, _clock, error = in_new_thread(lambda: refresh(2, {}))  # a new request's thread

    assert error is None and text(tiles).count("bt-wall-tile") >= 2
    assert len(aside_folders(services.settings.cache_dir, "wall")) == 1


# ---------------------------------------------------------------------------- damaged records in History


@pytest.fixture
def damaged(services, tmp_path):
    services.registry.save(small_sweep(name="mr_a", description="edited"))
    path = tmp_path / "registry" / "sweeps" / "mr_a.json"
    path.write_text(path.read_text()[:50])
    return services


def rows_by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def test_a_damaged_record_is_a_row_of_history_with_restore_and_delete(damaged) -> None:
    from components.sweeps_damaged import SweepsDamagedIds
    from pages.sweeps import load_rows, select, show_detail

    rows, _alert = load_rows(None, 0)
    row = rows_by_name(rows)["mr_a"]
    assert (
        row["last_state"] == "damaged" and row["has_previous"] and "unreadable record" in row["description"]
    )
    assert rows_by_name(rows)["mr_b"]["last_state"] == "running"

    selection = select([row])
    disabled = ("clone", "monitor", "results", "retrigger", "retry", "cancel")
    assert selection["text"] == "mr_a · damaged"
    assert all(selection[f"{button}_disabled"] is True for button in disabled)
    detail, hidden, _current = show_detail([row], 0)
    shown = text(detail)
    assert hidden is False and SweepsDamagedIds.RESTORE in shown and SweepsDamagedIds.DELETE in shown
    assert "restore its previous version or delete it" in shown


def test_restoring_a_damaged_record_brings_back_its_previous_version(damaged) -> None:
    from pages.sweeps import load_rows, repair_damaged_record

    row = rows_by_name(load_rows(None, 0)[0])["mr_a"]
    alert, touched = _repair(repair_damaged_record, "restore", row)

    assert "Restored mr_a" in text(alert) and touched == 1
    record = damaged.registry.get("mr_a")
    assert record.config.description == small_sweep(name="mr_a").description  # the version before
    assert rows_by_name(load_rows(None, 1)[0])["mr_a"]["last_state"] != "damaged"


def test_deleting_a_damaged_record_frees_its_name(damaged) -> None:
    from pages.sweeps import load_rows, repair_damaged_record

    row = rows_by_name(load_rows(None, 0)[0])["mr_a"]
    alert, _touched = _repair(repair_damaged_record, "delete", row)

    assert "its name can be saved again" in text(alert)
    assert "mr_a" not in rows_by_name(load_rows(None, 1)[0])
    assert damaged.registry.save(small_sweep(name="mr_a"), expected_version=0).version == 1


def test_a_repair_of_a_row_that_is_not_damaged_does_nothing(damaged) -> None:
    from pages.sweeps import repair_damaged_record

    with pytest.raises(PreventUpdate):
        _repair(repair_damaged_record, "restore", {"name": "mr_b"})


def _repair(callback, action: str, row: dict):
    """Call the repair callback as Dash would after a click on `action` (restore, or a confirmed delete)."""
    from contextvars import copy_context

    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    from components.sweeps_damaged import SweepsDamagedIds

    trigger = SweepsDamagedIds.RESTORE if action == "restore" else SweepsDamagedIds.DELETE
    prop = "n_clicks" if action == "restore" else "submit_n_clicks"

    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{trigger}.{prop}", "value": 1}]))
        return callback(1 if action == "restore" else None, 1 if action == "delete" else None, [row], 0)

    return copy_context().run(run)
