"""Sign-in test helpers: a users file, sweeps owned by different users, and callback requests built from
`/_dash-dependencies` (as a browser would send them, or forced)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
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


# What the app's SQLite database holds as state; the rest (its WAL, the migrations' bookkeeping, the
# one-time import marker) changes when a read first opens it, and the audit trail records refused
# attempts too, by design (tests/integration/test_audit.py checks what it records).
STATE_TABLES = ("sweeps", "kiosk_links")
SQLITE_SIDE_FILES = ("-wal", "-shm", ".lock", "-journal")


def _database_state(path: Path) -> str | None:
    """A hash of the state tables' rows of the SQLite file at `path` (None when they are all empty)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        present = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows = [
            (table, sorted(map(repr, connection.execute(f"SELECT * FROM {table}"))))
            for table in STATE_TABLES
            if table in present
        ]
    if not any(table_rows for _table, table_rows in rows):
        return None
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file that records state under `folder` (registry, fake Airflow, kiosk links), by content hash,
    and the state tables of its SQLite databases; caches are left out (reads may touch them)."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        parts = set(path.relative_to(folder).parts)
        if not path.is_file() or {"cache", "server"} & parts or path.suffix == ".log":
            continue
        if path.name.endswith(SQLITE_SIDE_FILES):
            continue
        if path.suffix == ".db":
            state = _database_state(path)
            if state is not None:
                found[str(path.relative_to(folder))] = state
            continue
        found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


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
