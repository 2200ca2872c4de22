"""Sign-in pieces on their own: settings refusals, password hashing, the users CLI, roles, kiosk links,
pending confirmations, the request checks and the sweep use cases' ownership rule."""

from __future__ import annotations

import io
import os
import stat
import sys

import diskcache
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services import users
from services.auth import Principal, Role, role_from_claim
from services.database import Database
from services.errors import BadRequest, Forbidden
from services.kiosk import KioskLinks
from services.pending import PendingActions
from services.settings import SettingsError, load_settings
from services.shared_cache import DiskSharedCache
from services.sweep_actions import SweepActions
from tests.fakes import FakeServices
from tests.support.databases import sqlite_audit
from tests.support.sweeps import small_sweep

ADMIN = Principal(name="ada", role=Role.ADMIN)
ANN = Principal(name="ann", role=Role.RESEARCHER)
BOB = Principal(name="bob", role=Role.RESEARCHER)
VIC = Principal(name="vic", role=Role.VIEWER)
PASSWORD = "correct horse battery"


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "bt.example.com", "::"])
def test_auth_none_is_refused_off_loopback_with_one_line_naming_auth(host) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(host=host, auth="none")
    bad = [line.strip() for line in str(caught.value).splitlines()[1:]]
    assert len(bad) == 1 and bad[0].startswith("AUTH: AUTH=none is allowed only on a loopback HOST")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_auth_none_is_accepted_on_loopback(host) -> None:
    assert load_settings(host=host, auth="none").auth == "none"


def test_oidc_needs_its_issuer_and_client() -> None:
    with pytest.raises(
        SettingsError, match="AUTH=oidc needs OIDC_ISSUER_URL, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET"
    ):
        load_settings(host="0.0.0.0", auth="oidc")


def test_allowed_hosts_are_loopback_host_and_the_listed_names() -> None:
    settings = load_settings(host="0.0.0.0", auth="basic", allowed_hosts="bt.example.com, Wall.Example.com")
    assert settings.host_allowlist == {"127.0.0.1", "localhost", "::1", "bt.example.com", "wall.example.com"}


# --------------------------------------------------------------------------- passwords and the users CLI


def test_hashes_are_salted_and_verify() -> None:
    first, second = users.hash_password(PASSWORD), users.hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt:")
    assert users.verify_password(first, PASSWORD) and users.verify_password(second, PASSWORD)
    assert not users.verify_password(first, PASSWORD + "!")


def _cli(monkeypatch, path, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return users.main(["--file", str(path), *argv])


def test_users_cli_reads_the_password_from_stdin_and_writes_a_private_file(
    tmp_path, monkeypatch, capsys
) -> None:
    path = tmp_path / "users.json"
    assert (
        _cli(monkeypatch, path, "add", "ann", "--role", "researcher", "--stdin", stdin=PASSWORD + "\n") == 0
    )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PASSWORD not in path.read_text()
    store = users.UserStore(path)
    assert store.verify("ann", PASSWORD) == ANN and store.verify("ann", "wrong password") is None

    assert _cli(monkeypatch, path, "set-role", "ann", "admin") == 0
    assert _cli(monkeypatch, path, "list") == 0
    assert "ann\tadmin" in capsys.readouterr().out
    assert _cli(monkeypatch, path, "remove", "ann") == 0
    assert users.UserStore(path).verify("ann", PASSWORD) is None


def test_users_cli_has_no_password_argument(tmp_path, monkeypatch) -> None:
    path = tmp_path / "users.json"
    with pytest.raises(SystemExit):
        _cli(monkeypatch, path, "add", "ann", "--password", PASSWORD)
    with pytest.raises(SystemExit):
        _cli(monkeypatch, path, "add", "ann", PASSWORD)
    assert not path.exists()


def test_users_cli_prompts_twice_without_echo(tmp_path, monkeypatch) -> None:
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt="": next(answers))
    assert users.main(["--file", str(tmp_path / "u.json"), "add", "bob"]) == 0
    assert users.UserStore(tmp_path / "u.json").verify("bob", PASSWORD) == Principal(
        name="bob", role=Role.VIEWER
    )


def test_users_cli_refuses_short_passwords_and_bad_names(tmp_path, monkeypatch) -> None:
    path = tmp_path / "users.json"
    assert _cli(monkeypatch, path, "add", "ann", "--stdin", stdin="short\n") == 2
    assert _cli(monkeypatch, path, "add", "a b", "--stdin", stdin=PASSWORD + "\n") == 2
    assert not path.exists()


def test_a_new_password_takes_effect_at_once_despite_the_verified_cache(tmp_path) -> None:
    store = users.UserStore(tmp_path / "users.json")
    store.set_password("ann", PASSWORD, Role.RESEARCHER)
    assert store.verify("ann", PASSWORD) is not None
    store.set_password("ann", "another password")
    os.utime(store.path, ns=(1, 1))  # same-second writes: make sure the store sees a change
    assert store.verify("ann", PASSWORD) is None and store.verify("ann", "another password") == ANN


# --------------------------------------------------------------------------- roles


def test_role_from_claim_maps_strings_and_lists_and_defaults_to_viewer() -> None:
    admins, researchers = ["bt-admins"], ["bt-research", "quants"]
    assert role_from_claim(["x", "bt-admins"], admins, researchers) is Role.ADMIN
    assert role_from_claim("quants", admins, researchers) is Role.RESEARCHER
    assert role_from_claim(None, admins, researchers) is Role.VIEWER
    assert role_from_claim(["other"], admins, researchers) is Role.VIEWER


@pytest.fixture
def fake(tmp_path) -> FakeServices:
    services = FakeServices.create(tmp_path)
    for name, owner in (("ann_sweep", "ann"), ("bob_sweep", "bob")):
        config = small_sweep(name=name, owner=owner)
        services.registry.save(config)
        services.deployer.deploy(config)
        services.registry.record_deploy(name, config.spec_hash)
    return services


def test_researchers_act_on_their_own_sweeps_admins_on_any_viewers_on_none(fake) -> None:
    actions: SweepActions = fake.actions
    run = actions.trigger(ANN, "ann_sweep")
    with pytest.raises(Forbidden, match="Only ann"):
        actions.cancel(BOB, "ann_sweep", run.run_id)
    with pytest.raises(Forbidden, match="viewer"):
        actions.trigger(VIC, "ann_sweep")
    with pytest.raises(Forbidden):
        actions.deploy(None, "ann_sweep")
    assert fake.runs.list_runs(fake.registry.get("ann_sweep").config)[0].state != "failed"
    assert actions.cancel(ADMIN, "ann_sweep", run.run_id).run.state == "failed"


def test_save_makes_the_signed_in_user_the_owner_and_protects_others_sweeps(fake) -> None:
    record, existed = fake.actions.save(BOB, small_sweep(name="new_one", owner="somebody_else"))
    assert record.config.owner == "bob" and not existed
    with pytest.raises(Forbidden):
        fake.actions.save(BOB, small_sweep(name="ann_sweep", owner="bob"))
    with pytest.raises(Forbidden):
        fake.actions.save(VIC, small_sweep(name="vic_sweep"))
    assert fake.registry.get("ann_sweep").config.owner == "ann" and fake.registry.find("vic_sweep") is None
    record, existed = fake.actions.save(ADMIN, small_sweep(name="ann_sweep", description="fixed by ada"))
    assert existed and record.config.owner == "ann"


# ------------------------------------------------------------------- pending confirmations, kiosk links


def test_a_pending_action_is_taken_once_and_only_by_who_asked(tmp_path) -> None:
    pending = PendingActions(DiskSharedCache(diskcache.Cache(str(tmp_path / "p"))))
    token = pending.create(ANN, "cancel", "ann_sweep", "bt_1")
    with pytest.raises(Forbidden):
        pending.take(BOB, token)
    other = pending.create(ANN, "retry", "ann_sweep", "bt_1")
    assert pending.take(ANN, other).action == "retry"
    with pytest.raises(BadRequest, match="unknown, expired or already carried out"):
        pending.take(ANN, other)
    for forged in ("nope", "", None, 3):
        with pytest.raises(BadRequest):
            pending.take(ANN, forged)


def test_a_pending_action_expires(tmp_path) -> None:
    pending = PendingActions(DiskSharedCache(diskcache.Cache(str(tmp_path / "p"))), ttl_s=0.01)
    token = pending.create(ANN, "cancel", "ann_sweep", "bt_1")
    import time

    time.sleep(0.05)
    with pytest.raises(BadRequest):
        pending.take(ANN, token)


def test_kiosk_links_are_admin_only_scoped_and_revocable(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    links = KioskLinks(Database(url), sqlite_audit(tmp_path))
    with pytest.raises(Forbidden):
        links.create(ANN, "floor")
    link = links.create(ADMIN, "floor", owner="ann", strategy=None)
    assert links.find(link.token) == link and link.wall_filter() == {
        "owner": "ann",
        "strategy": None,
        "state": None,
    }
    assert (
        KioskLinks(Database(f"sqlite:///{tmp_path / 'app.db'}"), sqlite_audit(tmp_path)).find(link.token)
        == link
    )
    with pytest.raises(Forbidden):
        links.list(VIC)
    assert [item.token for item in links.list(ADMIN)] == [link.token]
    with pytest.raises(Forbidden):
        links.revoke(BOB, link.token)
    links.revoke(ADMIN, link.token)
    assert links.find(link.token) is None and links.find(None) is None and links.find("") is None


# --------------------------------------------------------------------------- request checks


def _request(method="POST", host="127.0.0.1:8050", **headers: str) -> Request:
    return Request(
        EnvironBuilder(
            path="/_dash-update-component", method=method, headers={"Host": host, **headers}
        ).get_environ()
    )


ALLOWED = frozenset({"127.0.0.1", "localhost", "::1", "bt.example.com"})


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"host": "attacker.example:8050"}, 400),
        ({"method": "GET", "host": "attacker.example"}, 400),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://127.0.0.1:9999"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Origin": "http://127.0.0.1:8050"}, None),
        ({"host": "bt.example.com", "Origin": "http://bt.example.com"}, None),
        ({"host": "[::1]:8050", "Origin": "http://[::1]:8050"}, None),
        ({}, None),  # no Origin and no Sec-Fetch-Site: not a browser another site can drive
    ],
)
def test_request_refusals(request_kwargs, status) -> None:
    from components.request_guard import refusal

    kwargs = dict(request_kwargs)
    method, host = kwargs.pop("method", "POST"), kwargs.pop("host", "127.0.0.1:8050")
    refused = refusal(_request(method, host, **kwargs), ALLOWED)
    assert (refused[0] if refused else None) == status


def test_workers_sharing_the_verified_cache_check_each_password_once(tmp_path, monkeypatch) -> None:
    path = tmp_path / "users.json"
    users.UserStore(path).set_password("ann", PASSWORD, Role.RESEARCHER)
    shared = diskcache.Cache(str(tmp_path / "signin"))
    checks: list[str] = []
    real = users.verify_password
    monkeypatch.setattr(users, "verify_password", lambda h, p: checks.append(p) or real(h, p))
    first, second = (users.UserStore(path, shared, b"k" * 32) for _ in range(2))  # two workers
    assert first.verify("ann", PASSWORD) == ANN and second.verify("ann", PASSWORD) == ANN
    assert second.verify("ann", "wrong password") is None
    assert checks == [PASSWORD, "wrong password"]
    assert not any(PASSWORD in str(key) for key in shared.iterkeys())


def test_a_generated_secret_key_is_private_and_the_same_for_every_worker(tmp_path) -> None:
    from components.signin import secret_key

    settings = load_settings(app_data_dir=tmp_path)
    assert secret_key(settings) == secret_key(settings) and len(secret_key(settings)) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
    assert secret_key(load_settings(app_data_dir=tmp_path, secret_key="from-env")) == "from-env"


def test_the_users_command_runs_as_a_module_with_the_password_on_stdin(tmp_path) -> None:
    import subprocess

    from services.settings import PROJECT_ROOT

    path = tmp_path / "users.json"
    command = [
        sys.executable,
        "-m",
        "services.users",
        "--file",
        str(path),
        "add",
        "ann",
        "--role",
        "admin",
        "--stdin",
    ]
    done = subprocess.run(
        command, input=PASSWORD + "\n", text=True, capture_output=True, cwd=PROJECT_ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert users.UserStore(path).verify("ann", PASSWORD) == Principal(name="ann", role=Role.ADMIN)
