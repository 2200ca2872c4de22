"""Each fault of the Airflow connection gets its own fix; a slow Airflow answers pages within the deadline;
credentials written into AIRFLOW_URL are used but never shown."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from components.alerts import user_message
from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport
from services.airflow.mwaa import MwaaTransport
from services.airflow.transport import ApiRequest
from services.connections import LocalConnections
from services.connections.cli import main
from services.deadline import PAGE_DEADLINE_S, deadline
from services.deploy import DeployService
from services.errors import Fault, Unavailable
from services.runs import RunService
from services.settings import Settings
from services.storage import LocalFolderStore
from tests.support.sweeps import small_sweep

PASSWORD = "url-pa55word"
SLOW_ANSWER_S = 20.0  # how late the slow Airflow answers (it stops waiting when the test ends)
# The deadline is PAGE_DEADLINE_S; the slack covers a loaded 2-core machine, not a second attempt.
UPPER_BOUND_S = PAGE_DEADLINE_S + 3.0


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client gave up on a slow answer: expected here


def serve(status: int, body: Any, *, delay_s: float = 0.0) -> tuple[QuietServer, threading.Event, list[str]]:
    """A loopback server answering every request with `status`/`body` after `delay_s` (or when released)."""
    release, seen = threading.Event(), []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self) -> None:
            seen.append(f"{self.command} {self.path} {self.headers.get('Authorization', '')}")
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            release.wait(delay_s)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = answer

    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, release, seen


@pytest.fixture
def airflow_answering() -> Iterator[Any]:
    started: list[tuple[QuietServer, threading.Event]] = []

    def start(status: int, body: Any, delay_s: float = 0.0) -> tuple[str, list[str]]:
        server, release, seen = serve(status, body, delay_s=delay_s)
        started.append((server, release))
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server, release in started:
        release.set()
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_checks(url: str, tmp_path: Path) -> dict[str, Any]:
    settings = Settings(airflow_url=url, airflow_password=SecretStr("unused-here"))
    client = AirflowClient(HttpTransport.from_settings(settings))
    store = LocalFolderStore(tmp_path / "dags")
    checks = LocalConnections(settings, client, store, LocalFolderStore(tmp_path / "results")).check_all()
    return {check.key: check for check in checks}


# ---- each fault, its fix ----------------------------------------------------------------------------


def test_refused_connection_says_start_the_local_airflow(tmp_path: Path) -> None:
    check = local_checks(f"http://127.0.0.1:{free_port()}", tmp_path)["airflow"]
    assert not check.ok and "connection refused" in check.detail
    assert "scripts/local_airflow.py start" in check.fix and "AIRFLOW_URL" in check.fix


def test_unknown_host_says_check_the_host_name(tmp_path: Path) -> None:
    check = local_checks("http://no-such-airflow.invalid:8080", tmp_path)["airflow"]
    assert not check.ok and "does not resolve" in check.detail
    assert "host name in AIRFLOW_URL" in check.fix and "Start" not in check.fix


def test_server_error_says_see_the_logs_not_start_airflow(airflow_answering: Any, tmp_path: Path) -> None:
    url, _ = airflow_answering(500, {"detail": "Internal Server Error"})
    check = local_checks(url, tmp_path)["airflow"]
    assert not check.ok and "HTTP 500" in check.detail
    assert "internal error" in check.fix and "logs" in check.fix and "Start" not in check.fix


def test_rejected_login_says_check_the_credentials(airflow_answering: Any, tmp_path: Path) -> None:
    url, _ = airflow_answering(401, {"detail": "Invalid credentials"})
    checks = local_checks(url, tmp_path)
    failing = [check for check in checks.values() if not check.ok]
    assert failing and all("AIRFLOW_PASSWORD" in check.fix for check in failing)


def test_https_to_a_plain_http_server_says_check_the_scheme(airflow_answering: Any, tmp_path: Path) -> None:
    url, _ = airflow_answering(200, {"version": "3.3.2"})
    check = local_checks(url.replace("http://", "https://"), tmp_path)["airflow"]
    assert not check.ok and "TLS" in check.detail and "http or https" in check.fix


def test_an_alert_shows_the_fix_of_the_fault() -> None:
    error = Unavailable("cannot reach Airflow", fault=Fault.REFUSED, fix="Start the local Airflow")
    assert user_message(error) == "cannot reach Airflow — Start the local Airflow"
    assert user_message(Unavailable("no fix known")) == "no fix known"


# ---- deadlines ----------------------------------------------------------------------------------------


def test_slow_airflow_answers_connections_preflight_and_trigger_within_the_deadline(
    airflow_answering: Any, tmp_path: Path
) -> None:
    url, _ = airflow_answering(200, {"version": "3.3.2"}, delay_s=SLOW_ANSWER_S)
    login_url = url.replace("http://", f"http://admin:{PASSWORD}@")
    settings = Settings(airflow_url=login_url, cache_dir=tmp_path / "cache")
    client = AirflowClient(HttpTransport.from_settings(settings))  # the defaults the app builds with
    dags, results = LocalFolderStore(tmp_path / "dags"), LocalFolderStore(tmp_path / "results")
    config = small_sweep()

    def timed(action: Any) -> tuple[float, Any]:
        started = time.monotonic()
        try:
            outcome = action()
        except Unavailable as exc:
            outcome = exc
        return time.monotonic() - started, outcome

    actions = {
        "connections": LocalConnections(settings, client, dags, results).check_all,
        "preflight": lambda: DeployService(dags, client, max_grid_points=None).preflight(config),
        "trigger": lambda: RunService(client).trigger(config),
        "any other call": client.version,  # outside a page's block: the transport's own budget
    }
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:  # three pages at once: one deadline each
        futures = {name: pool.submit(timed, action) for name, action in actions.items()}
        outcomes = {name: future.result() for name, future in futures.items()}

    for name, (elapsed, _) in outcomes.items():
        assert elapsed < UPPER_BOUND_S, f"{name} took {elapsed:.1f} s"
    connections = {check.key: check for check in outcomes["connections"][1]}
    preflight = {check.key: check for check in outcomes["preflight"][1]}
    trigger_error, call_error = outcomes["trigger"][1], outcomes["any other call"][1]
    texts = (
        connections["airflow"].detail,
        preflight["airflow"].detail,
        trigger_error.message,
        call_error.message,
    )
    for text in texts:
        assert f"Airflow is slow (no answer within {PAGE_DEADLINE_S:g} s from {url}" in text
        assert PASSWORD not in text and "admin:" not in text
    assert connections["airflow"].resource == url
    assert isinstance(trigger_error, Unavailable) and trigger_error.fault is Fault.SLOW


def test_a_call_after_the_deadline_is_not_sent(airflow_answering: Any) -> None:
    url, seen = airflow_answering(200, {"version": "3.3.2"})
    transport = HttpTransport(url, "admin", SecretStr(PASSWORD), api_version="v1")
    with deadline(0.0), pytest.raises(Unavailable) as info:
        transport(ApiRequest("GET", "/version"))
    assert info.value.fault is Fault.SLOW and seen == []


class RecordingMwaa:
    """An MWAA client that records the InvokeRestApi calls it gets."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke_rest_api(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        return {"RestApiStatusCode": 200, "RestApiResponse": {"version": "2.10.3"}}


def test_mwaa_does_not_start_a_call_after_the_deadline() -> None:
    mwaa = RecordingMwaa()
    transport = MwaaTransport(mwaa, "env")
    assert transport(ApiRequest("GET", "/version")).status == 200
    with deadline(0.0), pytest.raises(Unavailable, match="MWAA env is slow"):
        transport(ApiRequest("GET", "/version"))
    assert len(mwaa.calls) == 1


# ---- credentials in AIRFLOW_URL ------------------------------------------------------------------------


def test_credentials_in_the_url_are_the_login_and_never_shown() -> None:
    settings = Settings(airflow_url=f"http://bob:{PASSWORD}@airflow.internal:8080/")
    assert settings.airflow_url == "http://airflow.internal:8080"
    assert (settings.airflow_username, settings.airflow_password.get_secret_value()) == ("bob", PASSWORD)


def test_transport_sends_a_bearer_token_not_the_url_login(airflow_answering: Any) -> None:
    url, seen = airflow_answering(201, {"access_token": "tok-123456789", "version": "3.3.2"})
    transport = HttpTransport(url.replace("http://", f"http://bob:{PASSWORD}@"), "admin", "ignored")
    transport(ApiRequest("GET", "/version"))
    assert seen[-1] == "GET /api/v2/version Bearer tok-123456789"
    assert PASSWORD not in repr(transport) + transport.describe()


def test_cli_shows_the_url_without_credentials_and_the_fix_of_the_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    env = {
        "MODE": "local",
        "AIRFLOW_URL": f"http://admin:{PASSWORD}@127.0.0.1:{port}",
        "APP_DATA_DIR": str(tmp_path / "app"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "LOCAL_DAGS_FOLDER": str(tmp_path / "dags"),
        "RESULTS_ROOT": str(tmp_path / "results"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main() == 1
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err and "admin:" not in out + err
    airflow_line = next(line for line in out.splitlines() if "Airflow API reachable" in line)
    assert airflow_line.startswith("FAIL") and f"[http://127.0.0.1:{port}]" in airflow_line
    assert "-> fix: Start the local Airflow" in airflow_line and "Traceback" not in err
