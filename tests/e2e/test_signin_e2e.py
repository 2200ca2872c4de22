"""Sign-in in a real browser over fake services: basic users with roles, ownership, forced requests,
kiosk links; and, for every callback, the requests the server must refuse on a signed-in app."""

from __future__ import annotations

import base64
import json
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from components.access import CALLBACK_ACCESS, Access, callback_name
from services.settings import Settings
from tests.e2e.conftest import app_env, free_port, serve
from tests.e2e.helpers import choose_strategy, history_row, save_sweep, type_into
from tests.fakes import FakeServices
from tests.support.signin import (
    CALLBACK_PATH,
    PASSWORD,
    USERS,
    OffLoopClient,
    fetch_script,
    find_dep,
    request_body,
    snapshot,
    write_users,
)
from tests.support.sweeps import small_sweep

pytestmark = pytest.mark.e2e

RUN_SECONDS = 3600  # runs stay running: Cancel is possible throughout
REFRESH_S = 2
ANN_SWEEP, BOB_SWEEP = "ann_sweep", "bob_sweep"
# At least these change something: save, deploy, cancel a deploy (twice: ours and Dash's background
# cancel), trigger, ask and confirm on Sweeps, create and revoke kiosk links.
STATE_CHANGING_MIN = 9


@dataclass
class SignedInApp:
    url: str
    folder: Path
    services: FakeServices

    def run_states(self, name: str) -> list[str]:
        return [run.state for run in self.services.runs.list_runs(self.services.registry.get(name).config)]


def seed(folder: Path) -> FakeServices:
    settings = Settings(app_data_dir=folder / "data", cache_dir=folder / "cache")
    services = FakeServices.create(folder / "data" / "fake", settings)
    services.runs.run_seconds = RUN_SECONDS
    for name, owner in ((ANN_SWEEP, "ann"), (BOB_SWEEP, "bob")):
        config = small_sweep(name=name, owner=owner)
        services.registry.save(config)
        services.deployer.deploy(config)
        services.registry.record_deploy(name, config.spec_hash)
        services.registry.record_run(name, services.runs.trigger(config).run_id)
    return services


@pytest.fixture(scope="module")
def basic_app(tmp_path_factory) -> Iterator[SignedInApp]:
    folder = tmp_path_factory.mktemp("e2e-signin")
    services = seed(folder)
    users = write_users(folder / "data" / "users.json")
    env = app_env(
        folder,
        free_port(),
        AUTH="basic",
        AUTH_USERS_FILE=str(users),
        FAKE_RUN_SECONDS=str(RUN_SECONDS),
        REFRESH_INTERVAL_S=str(REFRESH_S),
    )
    with serve(
        [sys.executable, "tests/e2e/serve_fake.py"], env, folder / "server", ready_path="/healthz"
    ) as served:
        yield SignedInApp(served.url, folder, services)


def _basic(name: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()


def post(url: str, body: dict, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url + CALLBACK_PATH,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def dependencies(url: str) -> list[dict]:
    with urllib.request.urlopen(url + "/_dash-dependencies", timeout=30) as response:
        return [dep for dep in json.load(response) if not dep.get("clientside_function")]


def access_by_output(deps: list[dict]) -> dict[str, Access]:
    """What each served callback needs, from the role table, by the output string the server declared.
    The names come from the same app built in this process (its outputs are the server's)."""
    from tests.fakes import _app, use_fake_services

    if not _app:
        use_fake_services(Path(tempfile.mkdtemp(prefix="signin-names-")))
    OffLoopClient(_app[0].server).get("/_dash-dependencies")  # Dash fills callback_map at its first request
    callback_map = _app[0].callback_map
    return {
        dep["output"]: CALLBACK_ACCESS[callback_name(callback_map[dep["output"]]["callback"])] for dep in deps
    }


def test_every_callback_refuses_no_session_a_lower_role_a_foreign_origin_and_host(basic_app) -> None:
    deps = dependencies(basic_app.url)
    needs = access_by_output(deps)
    changing = [dep for dep in deps if needs[dep["output"]] in (Access.RESEARCHER, Access.ADMIN)]
    assert len(changing) >= STATE_CHANGING_MIN
    before = snapshot(basic_app.folder)
    origin = {"Origin": basic_app.url}

    no_session = {dep["output"]: post(basic_app.url, request_body(dep), **origin)[0] for dep in deps}
    assert {out: status for out, status in no_session.items() if status != 401} == {}
    wrong = {}
    for dep in deps:
        needed = needs[dep["output"]]
        for user, role in USERS.items():
            if role.allows(needed.role) and needed in (Access.RESEARCHER, Access.ADMIN):
                continue  # allowed to change things: not sent here (the browser tests do it properly)
            status, _text = post(basic_app.url, request_body(dep), Authorization=_basic(user), **origin)
            refused = status in (401, 403)
            if refused == role.allows(needed.role) or (refused and status != 403):
                wrong[(dep["output"][:60], user)] = status
    assert wrong == {}
    for dep in deps:
        admin = {"Authorization": _basic("ada")}
        assert post(basic_app.url, request_body(dep), Origin="http://evil.example", **admin)[0] == 403
        assert post(basic_app.url, request_body(dep), Host="attacker.example", **origin, **admin)[0] == 400
    assert snapshot(basic_app.folder) == before


def signed_in(browser, user: str | None, app: SignedInApp) -> Page:
    credentials = {"username": user, "password": PASSWORD} if user else None
    context = browser.new_context(http_credentials=credentials, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    return page


def test_a_viewer_reads_the_wall_monitor_and_results_but_cannot_change_anything(browser, basic_app) -> None:
    page = signed_in(browser, "vic", basic_app)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    before = snapshot(basic_app.folder)

    page.goto(basic_app.url + "/wall")
    expect(page.locator("#wall-tiles")).to_contain_text(ANN_SWEEP)
    expect(page.locator("#shell-user")).to_have_text("vic · viewer")  # no Admin link
    page.goto(f"{basic_app.url}/monitor/{ANN_SWEEP}")
    run_id = basic_app.services.registry.get(ANN_SWEEP).run_ids[0]
    expect(page.locator("#monitor-run-header")).to_contain_text(run_id)
    page.goto(f"{basic_app.url}/results/{ANN_SWEEP}")
    expect(page.locator("#results-count")).to_be_visible()

    page.goto(basic_app.url + "/sweeps")
    history_row(page, ANN_SWEEP).click()
    for button in ("#sweeps-retrigger", "#sweeps-retry", "#sweeps-cancel"):
        expect(page.locator(button)).to_be_disabled()
    page.goto(basic_app.url + "/deploy")  # the sweep selected above is the current one
    expect(page.locator("#deploy-trigger-hint")).to_contain_text("Only ann or an admin")
    expect(page.locator("#deploy-button")).to_be_disabled()
    page.goto(basic_app.url + "/")
    expect(page.locator("#configure-save-reason")).to_contain_text("Viewers cannot save")
    expect(page.locator("#configure-save")).to_be_disabled()

    deps = dependencies(basic_app.url)
    forced = {
        "deploy-trigger": {"shell-current-sweep.data": ANN_SWEEP},
        "deploy-button": {"shell-current-sweep.data": ANN_SWEEP, "deploy-session.data": "forced"},
        "sweeps-retrigger": {"sweeps-grid.selectedRows": [{"name": ANN_SWEEP, "last_run_id": "x"}]},
        "sweeps-confirm": {"sweeps-pending.data": {"token": "forged"}},
    }
    for input_id, values in forced.items():
        status, _text = page.evaluate(fetch_script(request_body(find_dep(deps, input_id), values)))
        assert status == 403, input_id
    assert snapshot(basic_app.folder) == before
    assert basic_app.run_states(ANN_SWEEP) == ["running"]
    assert not errors
    page.context.close()


def test_a_researcher_cannot_cancel_another_researchers_sweep_but_an_admin_can(browser, basic_app) -> None:
    page = signed_in(browser, "bob", basic_app)
    page.goto(basic_app.url + "/sweeps")
    history_row(page, ANN_SWEEP).click()
    expect(page.locator("#sweeps-cancel")).to_be_disabled()
    history_row(page, BOB_SWEEP).click()
    expect(page.locator("#sweeps-cancel")).to_be_enabled()

    before = snapshot(basic_app.folder)
    deps = dependencies(basic_app.url)
    run_id = basic_app.services.registry.get(ANN_SWEEP).run_ids[0]
    ask = request_body(
        find_dep(deps, "sweeps-retrigger"),
        {"sweeps-grid.selectedRows": [{"name": ANN_SWEEP, "last_run_id": run_id}]},
    )
    ask["changedPropIds"] = ["sweeps-cancel.n_clicks"]
    status, text = page.evaluate(fetch_script(ask))
    assert status == 200 and "Only ann" in text and "token" not in text
    status, text = page.evaluate(
        fetch_script(
            request_body(find_dep(deps, "sweeps-confirm"), {"sweeps-pending.data": {"token": "forged"}})
        )
    )
    assert status == 200 and "Nothing was done" in text
    status, text = page.evaluate(
        fetch_script(request_body(find_dep(deps, "deploy-trigger"), {"shell-current-sweep.data": ANN_SWEEP}))
    )
    assert status == 200 and "Only ann" in text
    assert basic_app.run_states(ANN_SWEEP) == ["running"] and snapshot(basic_app.folder) == before
    page.context.close()

    admin = signed_in(browser, "ada", basic_app)
    admin.goto(basic_app.url + "/sweeps")
    history_row(admin, ANN_SWEEP).click()
    admin.click("#sweeps-cancel")
    expect(admin.locator("#sweeps-modal")).to_contain_text(ANN_SWEEP)
    admin.click("#sweeps-confirm")
    expect(admin.locator("#sweeps-alert")).to_contain_text("is now failed")
    assert basic_app.run_states(ANN_SWEEP)[0] == "failed"
    admin.context.close()


def test_a_researcher_saves_as_themself_deploys_in_the_background_and_triggers(browser, basic_app) -> None:
    page = signed_in(browser, "ann", basic_app)
    page.goto(basic_app.url + "/")
    choose_strategy(page, "MomentumStrategy")
    type_into(page, page.locator("#configure-owner"), "mallory")  # the form's owner is not trusted
    save_sweep(page, "ann_fresh")
    assert basic_app.services.registry.get("ann_fresh").config.owner == "ann"
    page.click("text=Go to Deploy")
    page.click("#deploy-button")  # a background callback: the principal travels with the job
    expect(page.locator("#deploy-panel")).to_contain_text("Deployed and unpaused.")
    page.click("#deploy-trigger")
    expect(page.locator("#deploy-trigger-result")).to_contain_text("Run started.")
    assert len(basic_app.run_states("ann_fresh")) == 1
    page.context.close()


def test_a_kiosk_link_shows_the_wall_without_sign_in_and_stops_when_revoked(browser, basic_app) -> None:
    admin = signed_in(browser, "ada", basic_app)
    admin.goto(basic_app.url + "/connections")
    expect(admin.locator("#shell-user")).to_contain_text("ada · admin")
    admin.locator("#shell-user").get_by_role("link", name="Admin").click()
    admin.fill("#admin-kiosk-label", "trading floor")
    admin.click("#admin-kiosk-create")
    link = admin.locator(".bt-kiosk-url").first
    expect(link).to_contain_text("/kiosk/")
    kiosk_url = link.inner_text()

    screen = signed_in(browser, None, basic_app)
    errors: list[str] = []
    screen.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    assert screen.goto(kiosk_url).status == 200
    expect(screen.locator("#wall-tiles")).to_contain_text(BOB_SWEEP)
    assert not errors, errors  # every callback the wall needs is open to its link
    deps = dependencies(basic_app.url)
    status, _ = screen.evaluate(
        fetch_script(request_body(find_dep(deps, "deploy-trigger"), {"shell-current-sweep.data": BOB_SWEEP}))
    )
    assert status == 401
    stepper = request_body(find_dep(deps, "shell-current-sweep"), {"shell-current-sweep.data": ANN_SWEEP})
    status, text = screen.evaluate(fetch_script(stepper))
    assert status in (200, 204) and ANN_SWEEP not in text  # no sweep is read by name for a kiosk
    # The kiosk's cookie opens no other page: the browser's own request (its cookies) is asked to sign in.
    assert screen.context.request.get(basic_app.url + "/sweeps").status == 401

    admin.locator("#admin-kiosk-links button", has_text="Revoke").first.click()
    expect(admin.locator("#admin-alert")).to_contain_text("Link revoked.")
    expect(screen.locator("#wall-error")).to_contain_text("revoked", timeout=REFRESH_S * 5_000)
    expect(screen.locator("#wall-tiles")).not_to_contain_text(BOB_SWEEP)
    assert screen.context.request.get(kiosk_url).status == 404
    admin.context.close()
    screen.context.close()


# --------------------------------------------------------------------------------------- OpenID Connect

OIDC_CLIENT_ID = "backtest-frontend"
OIDC_USERS = {
    "ann": {"email": "ann@example.com", "groups": ["bt-research"]},
    "vic": {"email": "vic@example.com", "groups": ["staff"]},
}


@pytest.fixture(scope="module")
def oidc_app(tmp_path_factory) -> Iterator[SignedInApp]:
    """The app with AUTH=oidc against oidc-provider-mock, run here on a free loopback port."""
    from oidc_provider_mock import User, run_server_in_thread

    folder = tmp_path_factory.mktemp("e2e-oidc")
    services = seed(folder)
    config = small_sweep(name="ann_oidc", owner="ann@example.com")
    services.registry.save(config)
    services.deployer.deploy(config)
    services.registry.record_deploy(config.name, config.spec_hash)
    users = [User(sub=sub, claims=claims) for sub, claims in OIDC_USERS.items()]
    with run_server_in_thread(port=free_port(), user_claims=users) as provider:
        env = app_env(
            folder,
            free_port(),
            AUTH="oidc",
            OIDC_ISSUER_URL=f"http://localhost:{provider.server_port}",
            OIDC_CLIENT_ID=OIDC_CLIENT_ID,
            OIDC_CLIENT_SECRET="test-secret",
            OIDC_ROLE_CLAIM="groups",
            OIDC_RESEARCHER_VALUES="bt-research",
            OIDC_ADMIN_VALUES="bt-admins",
            FAKE_RUN_SECONDS=str(RUN_SECONDS),
        )
        with serve(
            [sys.executable, "tests/e2e/serve_fake.py"], env, folder / "server", ready_path="/healthz"
        ) as app:
            yield SignedInApp(app.url, folder, services)


def oidc_sign_in(browser, app: SignedInApp, sub: str) -> Page:
    page = signed_in(browser, None, app)
    page.goto(app.url + "/sweeps")
    page.get_by_role("button", name=sub, exact=True).click()  # the provider's one-click sign-in
    page.wait_for_url(app.url + "/")
    return page


def test_oidc_sign_in_takes_the_role_from_the_groups_claim(browser, oidc_app) -> None:
    anonymous = signed_in(browser, None, oidc_app)
    deps = dependencies(oidc_app.url)
    trigger = request_body(find_dep(deps, "deploy-trigger"), {"shell-current-sweep.data": "ann_oidc"})
    anonymous.goto(oidc_app.url + "/healthz")
    assert anonymous.evaluate(fetch_script(trigger))[0] == 401
    anonymous.context.close()

    viewer = oidc_sign_in(browser, oidc_app, "vic")
    expect(viewer.locator(".bt-navbar")).to_be_visible()
    assert viewer.evaluate(fetch_script(trigger))[0] == 403
    assert oidc_app.run_states("ann_oidc") == []
    viewer.context.close()

    researcher = oidc_sign_in(browser, oidc_app, "ann")
    expect(researcher.locator("#shell-user")).to_contain_text("ann@example.com · researcherSign out")
    status, text = researcher.evaluate(fetch_script(trigger))
    assert status == 200 and "Run not started" not in text
    assert len(oidc_app.run_states("ann_oidc")) == 1
    status, text = researcher.evaluate(
        fetch_script(request_body(find_dep(deps, "deploy-trigger"), {"shell-current-sweep.data": ANN_SWEEP}))
    )
    assert status == 200 and "Only ann" in text  # ann@example.com is not the basic user ann
    researcher.goto(oidc_app.url + "/oidc/logout")
    assert researcher.evaluate(fetch_script(trigger))[0] == 401
    researcher.context.close()
