"""Sign-in cost: Monitor refresh p95 (server time) with 20 signed-in (AUTH=basic) sessions on gunicorn -w 2,
next to the same load without sign-in (AUTH=none), and the first request of a session (scrypt check).

Same fake Airflow and 10,000-point sweep as bench_app. Each session is a different user sending Basic
credentials with every request, as a browser does after signing in.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.airflow_server import FakeAirflowServer
from bench.app_support import (
    UPDATE_PATH,
    CallbackSpec,
    Poller,
    app_env,
    callback_specs,
    find_callback,
    free_port,
    gunicorn_command,
    http_json,
    percentile,
    poll_together,
    run_app,
)
from bench.common import ACCESS_FORMAT, AccessLog, failures, report, section
from bench.fixtures import seed_10k_sweep
from services.auth import Role
from services.registry import SweepRegistry
from services.users import UserEntry, UsersFile, UserStore, hash_password

WORKERS = 2
SESSIONS = 20
POLL_EVERY_S = 5.0
LOAD_SECONDS = 30.0
MONITOR_P95_MS = 300.0
PASSWORD = "bench password"
REQUEST_TIMEOUT_S = 30.0


def post(url: str, body: dict, headers: dict[str, str]) -> tuple[int, float]:
    """(status, seconds) of one callback POST."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.perf_counter() - started


class SignedInMonitor(Poller):
    """One Monitor page: the refresh callback every POLL_EVERY_S, as one user."""

    interval_s = POLL_EVERY_S

    def __init__(self, url: str, poll: CallbackSpec, name: str, tag: str, user: str | None) -> None:
        super().__init__()
        self.url, self.poll, self.name, self.tag = url, poll, name, tag
        self.headers = {"Origin": url}
        if user:
            token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.first_s: float | None = None

    def poll_once(self, tick: int) -> None:
        values = {
            "monitor-run.value": "latest",
            "shell-theme.data": "light",
            "monitor-name.data": self.name,
            "monitor-interval.n_intervals": tick,
        }
        status, seconds = post(
            f"{self.url}{UPDATE_PATH}?bench={self.tag}", self.poll.payload(values), self.headers
        )
        if self.first_s is None:
            self.first_s = seconds
        if status != 200:
            self.errors.append(f"refresh answered {status}")


def measure(
    url: str, access: AccessLog, name: str, tag: str, users: list[str | None]
) -> tuple[list[float], list]:
    status, dependencies = http_json(url + "/_dash-dependencies")
    assert status == 200, status
    poll = find_callback(callback_specs(dependencies), "monitor-kpis.children")
    pollers = [SignedInMonitor(url, poll, name, tag, user) for user in users]
    for poller in pollers:  # sign in (first request of each session) and warm both workers
        for tick in range(WORKERS * 2):
            poller.poll_once(tick + 1)
    firsts = [p.first_s * 1e3 for p in pollers if p.first_s is not None]
    for poller in pollers:
        poller.errors.clear()
    poll_together(pollers, LOAD_SECONDS)
    errors = [e for p in pollers for e in p.errors]
    return access.server_ms(f"bench={tag} "), [firsts, errors]


def run_phase(workspace: Path, airflow_url: str, name: str, auth: str) -> tuple[list[float], list]:
    port = free_port()
    access = AccessLog(workspace / f"access-{auth}.log")
    users_file = workspace / "users.json"
    env = app_env(
        workspace, port, airflow_url, cache=f"cache-{auth}",
        REFRESH_INTERVAL_S=str(int(POLL_EVERY_S)), AUTH=auth, AUTH_USERS_FILE=str(users_file),
    )  # fmt: skip
    users: list[str | None] = (
        [f"viewer{i:02d}" for i in range(SESSIONS)] if auth == "basic" else [None] * SESSIONS
    )
    command = gunicorn_command(port, WORKERS, access.path, ACCESS_FORMAT)
    with run_app(command, env, workspace / f"gunicorn-{auth}.log", ready_path="/healthz") as app:
        return measure(app.url, access, name, auth, users)


def main() -> int:
    workspace = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    try:
        password_hash = hash_password(PASSWORD)  # one salted hash for all: the server checks each user
        UserStore(workspace / "users.json").save(
            UsersFile(
                users={
                    f"viewer{i:02d}": UserEntry(password_hash=password_hash, role=Role.VIEWER)
                    for i in range(SESSIONS)
                }
            )
        )
        with FakeAirflowServer(workspace / "dags") as airflow:
            (workspace / "dags").mkdir(parents=True, exist_ok=True)
            registry = SweepRegistry(workspace / "data")
            config = seed_10k_sweep(airflow.fake, registry, workspace / "results")
            section(
                f"Monitor refresh, {config.grid_size:,} points, {SESSIONS} sessions, gunicorn -w {WORKERS}"
            )
            plain, (_, plain_errors) = run_phase(workspace, airflow.url, config.name, "none")
            signed, (firsts, signed_errors) = run_phase(workspace, airflow.url, config.name, "basic")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    p95_plain, p95_signed = percentile(plain, 0.95), percentile(signed, 0.95)
    ratio = p95_signed / max(p95_plain, 1e-9)
    print(
        f"  AUTH=none : {len(plain)} refreshes, p50 {percentile(plain, 0.5):.0f} ms, p95 {p95_plain:.0f} ms"
        f", {len(plain_errors)} errors"
    )
    print(
        f"  AUTH=basic: {len(signed)} refreshes, p50 {percentile(signed, 0.5):.0f} ms,"
        f" p95 {p95_signed:.0f} ms, {len(signed_errors)} errors; ratio p95 basic/none {ratio:.2f}"
    )
    print(
        "  first request of a signed-in session (scrypt check, round trip):"
        f" p50 {percentile(firsts, 0.5):.0f} ms, max {max(firsts):.0f} ms"
    )
    report(
        f"monitor refresh p95, {SESSIONS} signed-in (basic) sessions, gunicorn -w {WORKERS}",
        p95_signed,
        "ms",
        MONITOR_P95_MS,
    )
    report("monitor refresh errors with sign-in", len(signed_errors) + len(plain_errors), "errors", 0)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
