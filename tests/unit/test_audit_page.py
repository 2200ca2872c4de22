"""The audit page over HTTP, as a browser calls it: the client address reaches the trail, filters and
pages work, a wrong filter names its field, the CSV export carries the filtered rows."""

from __future__ import annotations

import csv
import io
import json

import pytest

from components.access import callback_name
from services.audit import AuditAction, AuditQuery, Outcome
from services.auth import local_principal
from tests.fakes import _app, use_fake_services
from tests.support.signin import OffLoopClient, request_body
from tests.support.sweeps import small_sweep

CALLBACK_PATH = "/_dash-update-component"
SAME_ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def app(tmp_path):
    services = use_fake_services(tmp_path)
    client = OffLoopClient(_app[0].server)
    deps = [dep for dep in client.get("/_dash-dependencies").get_json() if not dep.get("clientside_function")]
    by_name = {callback_name(_app[0].callback_map[dep["output"]]["callback"]): dep for dep in deps}
    return services, client, by_name


def call(client, dep: dict, values: dict, changed: str | None = None, address: str = "10.1.2.3") -> dict:
    response = client.post(
        CALLBACK_PATH,
        json=request_body(dep, values, changed),
        headers=SAME_ORIGIN,
        environ_base={"REMOTE_ADDR": address},
    )
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    return json.loads(response.get_data(as_text=True) or "{}").get("response", {})


FILTERS = {
    "audit-user.value": None,
    "audit-sweep.value": None,
    "audit-action.value": None,
    "audit-outcome.value": None,
    "audit-dates.start_date": None,
    "audit-dates.end_date": None,
    "audit-page.active_page": 1,
    "audit-export.n_clicks": 1,
}


def test_actions_through_http_carry_the_client_address_and_show_on_the_page(app) -> None:
    services, client, deps = app
    call(
        client,
        deps["pages.admin.create_link"],
        {"admin-kiosk-create.n_clicks": 1, "admin-kiosk-label.value": "x"},
    )
    [event] = services.audit.search(local_principal(), AuditQuery()).events
    assert (event.action, event.outcome, event.client) == (AuditAction.KIOSK_CREATE, Outcome.OK, "10.1.2.3")
    for i in range(3):
        services.actions.save(local_principal(), small_sweep(name=f"page_{i}"))
    shown = json.dumps(call(client, deps["pages.audit.show_page"], FILTERS))
    assert "kiosk-link-create" in shown and "10.1.2.3" in shown and "page_2" in shown
    only_saves = call(client, deps["pages.audit.show_page"], FILTERS | {"audit-action.value": "save"})
    text = json.dumps(only_saves, ensure_ascii=False)
    assert "kiosk-link-create" not in text and "1–3 of 3" in text, text


def test_a_wrong_date_range_names_the_field(app) -> None:
    _services, client, deps = app
    wrong = FILTERS | {"audit-dates.start_date": "2026-12-05", "audit-dates.end_date": "2026-12-01"}
    shown = json.dumps(call(client, deps["pages.audit.show_page"], wrong))
    assert "From date: it is after the To date" in shown


def test_the_csv_export_holds_the_filtered_rows(app) -> None:
    services, client, deps = app
    services.actions.save(local_principal(), small_sweep(name="exported"))
    services.actions.save(local_principal(), small_sweep(name="other_one"))
    answer = call(client, deps["pages.audit.export"], FILTERS | {"audit-sweep.value": "exported"})
    download = answer["audit-download"]["data"]
    rows = list(csv.DictReader(io.StringIO(download["content"])))
    assert download["filename"].startswith("audit-") and download["filename"].endswith(".csv")
    assert [(row["sweep"], row["action"], row["outcome"]) for row in rows] == [("exported", "save", "ok")]
