"""A small MWAA-compatible endpoint for tests: GetEnvironment and InvokeRestApi over REST-JSON.

botocore reaches it with `AWS_ENDPOINT_URL_MWAA=http://127.0.0.1:<port>` and
`AWS_DISABLE_HOST_PREFIX_INJECTION=true` (the MWAA model prefixes hosts with `api.` / `env.`).
Wire protocol, as in botocore's `data/mwaa/2020-07-01/service-2.json`:

- `GET /environments/{Name}` -> 200 `{"Environment": {...}}`
- `POST /restapi/{Name}` with `{"Path", "Method", "QueryParameters", "Body"}` -> 200
  `{"RestApiStatusCode", "RestApiResponse"}`; Airflow 4xx/5xx come back as HTTP 400 with
  `x-amzn-ErrorType: RestApiClientException` / `RestApiServerException` and the same two fields.

InvokeRestApi forwards to a real Airflow (`forward_to`: base URL, user, password; JWT or basic
auth by API version) or answers from `canned` (`(METHOD, Path) -> (status, body)`).
Run it alone with `python -m tests.support.mwaa_endpoint --help`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from services.airflow.http import HttpTransport
from services.airflow.transport import ApiRequest, ApiResponse, RetryPolicy
from services.errors import BacktestError
from tests.support.local_http import serve, shut

MAX_PATH_CHARS = 64
INVOKE_REST_API_LIMIT_S = 10.0  # MWAA answers InvokeRestApi within 10 s or not at all
ACCOUNT = "123456789012"
NOT_UPDATED_MESSAGE = "Update your environment to use InvokeRestApi."

Answer = tuple[int, Any]


@dataclass
class EnvironmentSpec:
    """What GetEnvironment reports, and how InvokeRestApi answers."""

    name: str = "TestMwaaEnvironment"
    airflow_version: str = "3.0.6"
    status: str = "AVAILABLE"
    region: str = "us-east-1"
    webserver_host: str = "test-mwaa.c0.us-east-1.airflow.amazonaws.com"
    not_updated: bool = False  # answer InvokeRestApi like an environment that predates it
    canned: dict[tuple[str, str], Answer] = field(default_factory=dict)


class MwaaEndpoint:
    """The endpoint in a background thread: `with MwaaEndpoint(spec) as url: ...`."""

    def __init__(
        self, spec: EnvironmentSpec | None = None, forward: Callable[[ApiRequest], ApiResponse] | None = None
    ) -> None:
        self.spec = spec or EnvironmentSpec()
        self.forward = forward
        self.calls: list[dict[str, Any]] = []  # every InvokeRestApi payload received
        self._server: ThreadingHTTPServer | None = None

    @staticmethod
    def forward_to(
        base_url: str, username: str, password: str, api_version: str = "v2"
    ) -> Callable[[ApiRequest], ApiResponse]:
        """A forwarder to a real Airflow's REST API (the transport local mode uses: JWT or basic auth)."""
        # One attempt within MWAA's own limit for InvokeRestApi (not the app's shorter page deadline).
        return HttpTransport(
            base_url,
            username,
            password,
            api_version=api_version,
            retry=RetryPolicy(attempts=1, budget_s=INVOKE_REST_API_LIMIT_S),
        )

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> str:
        endpoint = self

        class Handler(_Handler):
            owner = endpoint

        self._server = serve(Handler, "mwaa-endpoint", port)
        return self.url

    def stop(self) -> None:
        shut(self._server)
        self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- the two operations ------------------------------------------------------------------------

    def get_environment(self, name: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        spec = self.spec
        if name != spec.name:
            return _aws_error(404, "ResourceNotFoundException", f"Environment {name} not found")
        environment = {
            "Name": spec.name,
            "Arn": f"arn:aws:airflow:{spec.region}:{ACCOUNT}:environment/{spec.name}",
            "Status": spec.status,
            "AirflowVersion": spec.airflow_version,
            "WebserverUrl": spec.webserver_host,
        }
        return 200, {"Environment": environment}, {}

    def invoke_rest_api(
        self, name: str, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.calls.append(payload)
        if name != self.spec.name:
            return _aws_error(404, "ResourceNotFoundException", f"Environment {name} not found")
        if self.spec.not_updated:
            return _aws_error(400, "ValidationException", NOT_UPDATED_MESSAGE)
        path, method = str(payload.get("Path") or ""), str(payload.get("Method") or "")
        if not 1 <= len(path) <= MAX_PATH_CHARS:
            return _aws_error(
                400,
                "ValidationException",
                "1 validation error detected: Value at 'path' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_PATH_CHARS}",
            )
        status, body = self._answer(method, path, payload)
        if status < 400:
            return 200, {"RestApiStatusCode": status, "RestApiResponse": body if body is not None else {}}, {}
        kind = "RestApiServerException" if status >= 500 else "RestApiClientException"
        return 400, {"RestApiStatusCode": status, "RestApiResponse": body}, {"x-amzn-ErrorType": kind}

    def _answer(self, method: str, path: str, payload: dict[str, Any]) -> Answer:
        canned = self.spec.canned.get((method, path))
        if canned is not None:
            return canned
        if self.forward is not None:
            request = ApiRequest(
                method=method,
                path=path,
                params=payload.get("QueryParameters") or {},
                json=payload.get("Body"),
            )
            try:
                response = self.forward(request)
            except BacktestError as exc:
                return 503, {"detail": exc.message}
            return response.status, response.body
        if (method, path) == ("GET", "/version"):
            return 200, {"version": self.spec.airflow_version, "git_version": None}
        return 404, {"detail": "Not Found", "title": "Not Found", "status": 404}


def _aws_error(status: int, code: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"message": message}, {"x-amzn-ErrorType": code}


class _Handler(BaseHTTPRequestHandler):
    owner: MwaaEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def _route(self) -> list[str]:
        return [unquote(part) for part in urlsplit(self.path).path.strip("/").split("/")]

    def do_GET(self) -> None:
        parts = self._route()
        if len(parts) == 2 and parts[0] == "environments":
            self._send(*self.owner.get_environment(parts[1]))
        else:
            self._send(*_aws_error(404, "UnknownOperationException", f"no GET {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        parts = self._route()
        if len(parts) == 2 and parts[0] == "restapi":
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                self._send(*_aws_error(400, "ValidationException", "body is not JSON"))
                return
            self._send(*self.owner.invoke_rest_api(parts[1], payload))
        else:
            self._send(*_aws_error(404, "UnknownOperationException", f"no POST {self.path}"))

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", f"req-{time.monotonic_ns()}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="An MWAA-compatible endpoint forwarding to a local Airflow")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default=EnvironmentSpec.name)
    parser.add_argument("--airflow-version", default=EnvironmentSpec.airflow_version)
    parser.add_argument("--airflow-url", help="forward InvokeRestApi here (else canned answers)")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    args = parser.parse_args(argv)
    api = "v1" if args.airflow_version.startswith("2.") else "v2"
    spec = EnvironmentSpec(name=args.name, airflow_version=args.airflow_version)
    forward = None
    if args.airflow_url:
        forward = MwaaEndpoint.forward_to(args.airflow_url, args.username, args.password, api)
        spec.webserver_host = args.airflow_url  # the UI links then lead to the local Airflow
    endpoint = MwaaEndpoint(spec, forward)
    print(endpoint.start(args.port), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        endpoint.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
