"""A fake Airflow REST API over HTTP for the app benchmarks, and the workspaces they run in."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from bench.fake_airflow import FakeDagsFolderAirflow
from services.airflow.transport import ApiRequest
from services.registry import SweepRegistry

Seeded = TypeVar("Seeded")
API_ROOT = "/api/v2"
TOKEN_PATH = "/auth/token"
FAKE_TOKEN = "bench.fake.token"  # not a JWT: the transport keeps a token without `exp` for good


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler of a fake JSON API: quiet (no access log on stderr), JSON in and out."""

    def log_message(self, *args: object) -> None:
        pass

    def json_body(self) -> Any:
        """The request's JSON body; None when it has none."""
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def send_json(self, status: int, body: Any) -> None:
        self.send_text(status, json.dumps(body))

    def send_text(self, status: int, text: str) -> None:
        """`text` as it is, with the JSON content type (a test may answer JSON that is not valid)."""
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeAirflowServer:
    """bench.fake_airflow.FakeDagsFolderAirflow behind a real HTTP server (`/api/v2`, `/auth/token`).

    The app reaches it with its own HttpTransport, exactly as it reaches a real Airflow; `count`
    is the number of API requests that arrived (the upstream load the app puts on Airflow).
    """

    def __init__(self, dags_folder: Path) -> None:
        self.fake = FakeDagsFolderAirflow(dags_folder)
        self.count = 0
        self.paths: Counter[str] = Counter()  # the same requests by `METHOD /path` (below /api/v2)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAirflowServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset_count(self) -> None:
        with self._lock:
            self.count = 0
            self.paths.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JsonHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real Airflow API server
            # Headers and body go out in two writes: with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms on a kept-alive connection). Real API servers set TCP_NODELAY too.
            disable_nagle_algorithm = True

            def _dispatch(self) -> None:
                body = self.json_body()
                parts = urlsplit(self.path)
                if parts.path == TOKEN_PATH:
                    self.send_json(201, {"access_token": FAKE_TOKEN})
                    return
                if not parts.path.startswith(API_ROOT):
                    self.send_json(404, {"detail": "not found"})
                    return
                with server._lock:
                    server.count += 1
                    server.paths[f"{self.command} {parts.path[len(API_ROOT) :]}"] += 1
                request = ApiRequest(
                    self.command, parts.path[len(API_ROOT) :], dict(parse_qsl(parts.query)), body
                )
                response = server.fake(request)
                self.send_json(response.status, response.json)

            do_GET = do_POST = do_PATCH = _dispatch

        return Handler


@contextmanager
def bench_workspace(prefix: str) -> Iterator[Path]:
    """A temporary workspace folder holding an empty `dags` folder; removed with all it holds after."""
    workspace = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        (workspace / "dags").mkdir(parents=True)
        yield workspace
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def seeded_airflow(
    workspace: Path,
    seed: Callable[[FakeDagsFolderAirflow, SweepRegistry, Path], Seeded],
    **registry_options: Any,
) -> tuple[FakeAirflowServer, Seeded, float]:
    """A FakeAirflowServer over `workspace/dags` (not serving yet) and a registry under `workspace/data`,
    seeded by `seed` with `workspace/results`: (the server, what `seed` returned, seconds it took).
    Call it before any thread starts: seeding forks."""
    server = FakeAirflowServer(workspace / "dags")
    registry = SweepRegistry(workspace / "data", **registry_options)
    started = time.perf_counter()
    seeded = seed(server.fake, registry, workspace / "results")
    return server, seeded, time.perf_counter() - started
