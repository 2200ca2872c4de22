"""Faults in a real browser: two sessions saving one sweep, the wall while Airflow fails, a damaged record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from services.auth import local_principal
from tests.e2e.conftest import Seeded, serve_seeded
from tests.e2e.helpers import choose_strategy, history_row, save_sweep, snap, type_into
from tests.e2e.test_wall_results_e2e import FINISHED, REFRESH_S, RUN_SECONDS, seed

pytestmark = pytest.mark.e2e

MR = "MeanReversionStrategy"
AIRFLOW_500 = "Airflow answered HTTP 500: Internal Server Error"


def test_two_sessions_saving_one_sweep_one_is_refused_and_keeps_its_text(open_page, app_url) -> None:
    first, second = open_page(), open_page()
    first.goto(app_url + "/")
    choose_strategy(first, MR)
    save_sweep(first, "e2e_race")
    second.goto(app_url + "/?clone=e2e_race")  # as the Sweeps page's Clone button opens it
    expect(second.locator("#configure-name")).to_have_value("e2e_race_copy")
    type_into(second, second.locator("#configure-name"), "e2e_race")  # edit the sweep itself
    expect(second.locator("#configure-name-hint")).to_contain_text("Save updates it")
    type_into(second, second.locator("#configure-description"), "typed in session two")

    type_into(first, first.locator("#configure-description"), "typed in session one")
    first.click("#configure-save")
    expect(first.locator(".bt-toast")).to_contain_text("Updated e2e_race")
    second.click("#configure-save")

    saver = local_principal().name  # sign-in off on loopback: the local user saved it in session one
    expect(second.locator("#configure-alert")).to_contain_text(f"e2e_race was changed by {saver} at")
    expect(second.locator("#configure-alert")).to_contain_text("save under another name")
    expect(second.locator("#configure-description")).to_have_value("typed in session two")
    save_sweep(second, "e2e_race_two")  # the way out the message offers
    expect(second.locator("#configure-description")).to_have_value("typed in session two")


@pytest.fixture(scope="module")
def failing(tmp_path_factory) -> Iterator[Seeded]:
    with serve_seeded(tmp_path_factory.mktemp("e2e-faults"), seed, RUN_SECONDS, REFRESH_S) as served:
        yield served


def test_the_wall_with_airflow_failing_says_so_then_recovers(failing, watched_page) -> None:
    failing.services.monitor.fail(AIRFLOW_500)
    page, _watch = watched_page(failing.url, "1920x1080")
    page.goto(failing.url + "/wall")

    banner = page.locator(".bt-wall-outage")
    expect(banner).to_contain_text("Airflow unreachable since")
    expect(banner).to_contain_text(AIRFLOW_500)
    expect(page.locator(".bt-wall-tile")).to_have_count(3)
    expect(page.locator(".bt-wall-stale-note").first).to_contain_text("status unknown")
    expect(page.locator("#wall-summary")).not_to_contain_text("0 on the wall")
    snap(page, "wall-outage-1920x1080", full_page=False)

    failing.services.monitor.recover()
    expect(banner).to_have_count(0, timeout=15_000)
    expect(page.locator(".bt-wall-tile", has_text=FINISHED).locator(".bt-wall-state")).to_have_text("success")


def test_a_damaged_record_shows_in_history_and_is_restored(failing, watched_page) -> None:
    folder = failing.services.settings.app_data_dir / "fake" / "registry" / "sweeps"  # the server reads these
    path = folder / f"{FINISHED}.json"
    path.write_bytes(path.read_bytes()[:60])
    page, _watch = watched_page(failing.url)
    page.goto(failing.url + "/sweeps")

    row = history_row(page, FINISHED)
    expect(row).to_contain_text("damaged")
    row.click()
    expect(page.locator("#sweeps-detail")).to_contain_text("restore its previous version or delete it")
    snap(page, "sweeps-damaged-1366x768")
    page.click("#sweeps-damaged-restore")

    expect(page.locator("#sweeps-alert")).to_contain_text(f"Restored {FINISHED}")
    expect(history_row(page, FINISHED)).not_to_contain_text("damaged")
    # The version before the last write (the run was recorded last): deployed, its run not yet recorded.
    restored = failing.services.registry.get(FINISHED)
    assert restored.deployed_hash == restored.config.spec_hash and restored.run_ids == []
