"""The callback role table covers every server callback the app declares in `/_dash-dependencies`, and
every callback refuses a foreign Host, a foreign Origin and an oversize body before anything changes."""

from __future__ import annotations

import pytest

from components.access import CALLBACK_ACCESS, Access, callback_name
from tests.fakes import _app, use_fake_services
from tests.support.signin import OffLoopClient, request_body, snapshot
from tests.support.sweeps import small_sweep

CALLBACK_PATH = "/_dash-update-component"
# The callbacks that change something; each must need more than a viewer (a new one joins this list).
STATE_CHANGING = {
    "dash.dash.Dash._setup_server.<locals>.cancel_call",
    "pages.configure.save",
    "pages.deploy.deploy",
    "pages.deploy.cancel",
    "pages.deploy.trigger",
    "pages.sweeps.ask",
    "pages.sweeps.confirm",
    "pages.admin.create_link",
    "pages.admin.revoke_link",
}


@pytest.fixture
def app_client(tmp_path):
    services = use_fake_services(tmp_path)
    config = small_sweep(name="mine", owner="ann")
    services.registry.save(config)
    services.deployer.deploy(config)
    services.registry.record_run("mine", services.runs.trigger(config).run_id)
    client = OffLoopClient(_app[0].server)
    return client, tmp_path


def server_callbacks(client) -> list[dict]:
    """The callbacks the browser may call (clientside ones never reach the server)."""
    response = client.get("/_dash-dependencies")
    deps = response.get_json()
    assert deps is not None, (response.status_code, response.get_data()[:300])
    return [dep for dep in deps if not dep.get("clientside_function")]


def name_of(output: str) -> str:
    return callback_name(_app[0].callback_map[output]["callback"])


body_of = request_body


def test_every_server_callback_is_classified_and_every_state_changing_one_needs_a_researcher(
    app_client,
) -> None:
    client, _ = app_client
    names = {name_of(dep["output"]) for dep in server_callbacks(client)}
    assert names, "no callbacks enumerated"
    unclassified = names - set(CALLBACK_ACCESS)
    assert not unclassified, f"classify these in components/access.py: {sorted(unclassified)}"
    assert names >= STATE_CHANGING
    weak = {name for name in STATE_CHANGING if CALLBACK_ACCESS[name] in (Access.VIEWER, Access.KIOSK)}
    assert not weak, f"state-changing callbacks open to viewers: {sorted(weak)}"


def test_an_unclassified_callback_is_refused_for_everyone(app_client, monkeypatch) -> None:
    client, folder = app_client
    confirm = next(dep for dep in server_callbacks(client) if name_of(dep["output"]) == "pages.sweeps.ask")
    monkeypatch.delitem(CALLBACK_ACCESS, "pages.sweeps.ask")
    before = snapshot(folder)
    response = client.post(CALLBACK_PATH, json=body_of(confirm), headers={"Origin": "http://localhost"})
    assert response.status_code == 403 and snapshot(folder) == before


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Host": "attacker.example:8050", "Origin": "http://attacker.example:8050"}, 400),
    ],
)
def test_every_callback_refuses_foreign_requests_and_changes_nothing(app_client, headers, status) -> None:
    client, folder = app_client
    before = snapshot(folder)
    deps = server_callbacks(client)
    answers = {
        name_of(dep["output"]): client.post(CALLBACK_PATH, json=body_of(dep), headers=headers) for dep in deps
    }
    assert {name: r.status_code for name, r in answers.items() if r.status_code != status} == {}
    assert snapshot(folder) == before


def test_an_oversize_request_is_refused(app_client) -> None:
    client, folder = app_client
    before = snapshot(folder)
    dep = next(dep for dep in server_callbacks(client) if name_of(dep["output"]) == "pages.configure.save")
    body = body_of(dep) | {"padding": "x" * 1_100_000}
    response = client.post(CALLBACK_PATH, json=body, headers={"Origin": "http://localhost"})
    assert response.status_code == 413 and snapshot(folder) == before


def test_a_same_origin_request_passes_and_gets_security_headers(app_client) -> None:
    client, _ = app_client
    dep = next(dep for dep in server_callbacks(client) if name_of(dep["output"]) == "pages.sweeps.load_rows")
    response = client.post(CALLBACK_PATH, json=body_of(dep), headers={"Origin": "http://localhost"})
    assert response.status_code == 200 and "mine" in response.get_data(as_text=True)
    page = client.get("/sweeps")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
