"""Sign-in test helpers: a users file, sweeps owned by different users, and callback requests built from
`/_dash-dependencies` (as a browser would send them, or forced)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from services.auth import Role
from services.users import UserEntry, UsersFile, UserStore, hash_password
from tests.support.faults import in_new_thread

PASSWORD = "sign-in test password"
USERS = {"vic": Role.VIEWER, "ann": Role.RESEARCHER, "bob": Role.RESEARCHER, "ada": Role.ADMIN}
CALLBACK_PATH = "/_dash-update-component"


def write_users(path: Path, users: dict[str, Role] = USERS) -> Path:
    """Every user with PASSWORD (one hash, salted once: the test only needs to sign in)."""
    password_hash = hash_password(PASSWORD)
    UserStore(path).save(
        UsersFile(
            users={name: UserEntry(password_hash=password_hash, role=role) for name, role in users.items()}
        )
    )
    return path


def output_specs(output: str) -> list[dict] | dict:
    """The `outputs` of a request for a callback whose dependency output string is `output`."""
    many = output.startswith("..")
    specs = []
    for part in output.strip(".").split("...") if many else [output]:
        component, _, prop = part.partition("@")[0].rpartition(".")
        specs.append({"id": component, "property": prop})
    return specs if many else specs[0]


def request_body(dep: dict, values: dict[str, object] | None = None, changed: str | None = None) -> dict:
    """A well-formed request for the callback `dep`; inputs and states take `values` by "id.property"
    (1 otherwise); `changed` ("id.property") is the input that changed, the first one by default."""
    values = values or {}

    def props(items: list[dict]) -> list[dict]:
        return [
            {"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}", 1)}
            for i in items
        ]

    first = dep["inputs"][0] if dep["inputs"] else None
    return {
        "output": dep["output"],
        "outputs": output_specs(dep["output"]),
        "inputs": props(dep["inputs"]),
        "state": props(dep["state"]),
        "changedPropIds": [changed] if changed else [f"{first['id']}.{first['property']}"] if first else [],
    }


def find_dep(deps: list[dict], input_id: str) -> dict:
    """The server callback whose first input is `input_id` (e.g. "deploy-trigger", "sweeps-confirm")."""
    return next(
        dep
        for dep in deps
        if not dep.get("clientside_function") and dep["inputs"] and dep["inputs"][0]["id"] == input_id
    )


def snapshot(folder: Path) -> dict[str, str]:
    """Every file that records state under `folder` (registry, fake Airflow, kiosk links), by content hash;
    caches are left out (reads may touch them)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not {"cache", "server"} & set(path.relative_to(folder).parts)
        and path.suffix != ".log"
    }


def fetch_script(body: dict) -> str:
    """JS for page.evaluate: POST the callback request from the page (its cookies and credentials) and
    answer [status, text]."""
    return (
        "async () => { const r = await fetch('/_dash-update-component', {method: 'POST', "
        "headers: {'Content-Type': 'application/json'}, body: JSON.stringify("
        + json.dumps(body)
        + ")}); return [r.status, await r.text()]; }"
    )


class OffLoopClient:
    """A Flask test client whose requests run in a thread of their own: Playwright's sync API keeps an
    event loop running in the main thread (a whole-suite run opens the browser before the unit tests),
    and Dash's async before-request hooks refuse to run inside one."""

    def __init__(self, server) -> None:
        self._client = server.test_client()

    def _run(self, method: str, *args, **kwargs):
        return in_new_thread(lambda: getattr(self._client, method)(*args, **kwargs))

    def get(self, *args, **kwargs):
        return self._run("get", *args, **kwargs)

    def post(self, *args, **kwargs):
        return self._run("post", *args, **kwargs)
