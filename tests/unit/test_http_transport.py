"""HttpTransport against a tiny local HTTP server: tokens, retries, timeouts, one write at a time."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from bench.airflow_server import JsonHandler
from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport, jwt_expiry
from services.airflow.transport import ApiRequest, RetryPolicy
from services.errors import AuthError, NotFound, Unavailable

PASSWORD = "s3cret-pa55"
FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02, budget_s=5.0)


def make_jwt(exp: float, serial: int) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS512'})}.{part({'sub': 'admin', 'exp': int(exp), 'n': serial})}.c2lnbmF0dXJl"


@dataclass
class Script:
    """What the server answers; tests change it, the handler reads it and records what it saw."""

    token_status: int = 201
    token_lifetime_s: float = 3600.0
    valid_tokens: set[str] = field(default_factory=set)
    logins: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)  # then 200 {"version": ...}
    refuse_tokens: bool = False
    delay_s: float = 0.0
    seen: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def api_hits(self, path: str) -> int:
        return sum(1 for s in self.seen if s["path"] == path)


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def reply(self, status: int, body: Any) -> None:
            return self.send_text(status, body) if isinstance(body, str) else self.send_json(status, body)

        def handle_any(self) -> None:
            url = urlsplit(self.path)
            body = self.json_body()
            if url.path == "/auth/token":
                with script.lock:
                    script.logins.append(body)
                    token = make_jwt(time.time() + script.token_lifetime_s, len(script.logins))
                    script.valid_tokens.add(token)
                return self.reply(script.token_status, {"access_token": token})
            with script.lock:
                script.seen.append(
                    {"method": self.command, "path": url.path, "query": parse_qs(url.query), "body": body}
                    | {"auth": self.headers.get("Authorization", "")}
                )
                script.in_flight += 1
                script.max_in_flight = max(script.max_in_flight, script.in_flight)
            try:
                time.sleep(script.delay_s)
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ")
                if url.path.startswith("/api/v2") and (
                    script.refuse_tokens or token not in script.valid_tokens
                ):
                    return self.reply(401, {"detail": "Token Expired"})
                with script.lock:
                    answer = script.answers.pop(0) if script.answers else None
                if answer is not None:
                    return self.reply(*answer)
                return self.reply(200, {"version": "3.3.2", "git_version": None})
            finally:
                with script.lock:
                    script.in_flight -= 1

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def transport_for(url: str, **options: Any) -> HttpTransport:
    options.setdefault("retry", FAST_RETRY)
    return HttpTransport(url, "admin", SecretStr(PASSWORD), **options)


def get_version(transport: HttpTransport) -> Any:
    return transport(ApiRequest("GET", "/version"))


def test_logs_in_once_and_reuses_the_token(server: tuple[str, Script]) -> None:
    url, script = server
    transport = transport_for(url)
    for _ in range(3):
        assert get_version(transport).json["version"] == "3.3.2"
    assert script.logins == [{"username": "admin", "password": PASSWORD}]
    assert all(s["auth"].startswith("Bearer ey") for s in script.seen)
    assert [s["path"] for s in script.seen] == ["/api/v2/version"] * 3


def test_token_answered_with_200_is_accepted(server: tuple[str, Script]) -> None:
    url, script = server
    script.token_status = 200
    assert get_version(transport_for(url)).status == 200


def test_rejected_token_is_renewed_once(server: tuple[str, Script]) -> None:
    url, script = server
    transport = transport_for(url)
    get_version(transport)
    script.valid_tokens.clear()  # Airflow restarted with a new secret
    assert get_version(transport).status == 200
    assert len(script.logins) == 2


def test_token_still_rejected_after_renewal_is_an_auth_error(server: tuple[str, Script]) -> None:
    url, script = server
    transport = transport_for(url)
    get_version(transport)
    script.refuse_tokens = True
    with pytest.raises(AuthError) as info:
        AirflowClient(transport).version()
    assert len(script.logins) == 2  # one renewal, no loop
    assert info.value.status == 401 and PASSWORD not in info.value.message


def test_token_renewed_before_it_expires(server: tuple[str, Script]) -> None:
    url, script = server
    script.token_lifetime_s = 30.0  # inside the renewal margin
    transport = transport_for(url)
    get_version(transport)
    get_version(transport)
    assert len(script.logins) == 2
    assert all(s["auth"] for s in script.seen)


def test_wrong_password_is_an_auth_error_without_the_password(server: tuple[str, Script]) -> None:
    url, script = server
    script.token_status = 401
    with pytest.raises(AuthError) as info:
        AirflowClient(transport_for(url)).version()
    message = info.value.message
    assert "admin" in message and "127.0.0.1" in message and PASSWORD not in message
    assert script.seen == []


def test_transient_statuses_are_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(503, {"detail": "busy"}), (500, {"detail": "database is locked"})]
    assert get_version(transport_for(url)).status == 200
    assert script.api_hits("/api/v2/version") == 3


def test_5xx_after_the_last_attempt_is_unavailable(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(502, "<html>Bad Gateway</html>")] * 3
    with pytest.raises(Unavailable) as info:
        AirflowClient(transport_for(url)).version()
    assert info.value.status == 502 and script.api_hits("/api/v2/version") == 3


def test_not_found_passes_through(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(404, {"detail": "The Dag with ID: `x` was not found"})]
    with pytest.raises(NotFound):
        AirflowClient(transport_for(url)).get_dag("x")
    assert script.seen[0]["path"] == "/api/v2/dags/x"


def test_query_lists_and_encoded_paths(server: tuple[str, Script]) -> None:
    url, script = server
    transport = transport_for(url)
    params = {"tags": ["x", "y"], "limit": 5, "paused": False}
    transport(ApiRequest("GET", "/dags/d/dagRuns/a%3Ab%2Bc", params=params))
    seen = script.seen[-1]
    assert seen["path"] == "/api/v2/dags/d/dagRuns/a%3Ab%2Bc"
    assert seen["query"] == {"tags": ["x", "y"], "limit": ["5"], "paused": ["false"]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dead_airflow_fails_fast_and_names_the_host() -> None:
    port = free_port()
    transport = HttpTransport(f"http://127.0.0.1:{port}", "admin", SecretStr(PASSWORD))
    started = time.monotonic()
    with pytest.raises(Unavailable) as info:
        AirflowClient(transport).version()
    assert time.monotonic() - started < 3.0
    assert f"127.0.0.1:{port}" in info.value.message
    assert PASSWORD not in info.value.message and "Bearer" not in info.value.message


def test_read_timeout_retries_reads_but_not_posts(server: tuple[str, Script]) -> None:
    url, script = server
    script.delay_s = 0.5
    transport = transport_for(url, read_timeout_s=0.2)
    with pytest.raises(Unavailable, match=r"no answer within 0.2 s"):
        transport(ApiRequest("POST", "/dags/d/dagRuns", json={"logical_date": None}))
    assert script.api_hits("/api/v2/dags/d/dagRuns") == 1
    with pytest.raises(Unavailable):
        transport(ApiRequest("GET", "/version"))
    assert script.api_hits("/api/v2/version") == 3


def test_writes_go_one_at_a_time_reads_in_parallel(server: tuple[str, Script]) -> None:
    url, script = server
    transport = transport_for(url)
    get_version(transport)  # log in first
    script.delay_s = 0.1

    def burst(method: str) -> int:
        script.max_in_flight = 0
        threads = [
            threading.Thread(target=transport, args=(ApiRequest(method, "/dags/d"),)) for _ in range(5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return script.max_in_flight

    assert burst("PATCH") == 1
    assert burst("GET") > 1


def test_transports_sharing_a_lock_file_write_one_at_a_time(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    lock_file = tmp_path / "locks" / "airflow-writes.lock"
    transports = [transport_for(url, write_lock_file=lock_file) for _ in range(3)]  # like 3 workers
    for transport in transports:
        get_version(transport)
    script.delay_s = 0.1
    script.max_in_flight = 0
    threads = [
        threading.Thread(target=transport, args=(ApiRequest("POST", "/dags/d/dagRuns", json={}),))
        for transport in transports * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert script.max_in_flight == 1
    assert script.api_hits("/api/v2/dags/d/dagRuns") == 6


def test_v1_uses_basic_auth_and_no_token(server: tuple[str, Script]) -> None:
    url, script = server
    transport = transport_for(url, api_version="v1")
    assert get_version(transport).status == 200
    expected = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    assert script.seen[0]["auth"] == expected and script.seen[0]["path"] == "/api/v1/version"
    assert script.logins == []


def test_repr_and_describe_hold_no_secrets(server: tuple[str, Script]) -> None:
    url, _ = server
    transport = transport_for(url)
    get_version(transport)
    for text in (repr(transport), transport.describe(), repr(AirflowClient(transport)), str(vars(transport))):
        assert PASSWORD not in text and "eyJ" not in text


def test_jwt_expiry() -> None:
    assert jwt_expiry(make_jwt(1234567890, 1)) == 1234567890
    assert jwt_expiry("not-a-jwt") is None
