"""What the app benchmarks need around the app: a fake Airflow over HTTP, a seeded 10,000-point sweep,
Dash callback requests built from `/_dash-dependencies`, and app processes (`python app.py`, gunicorn)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_backtest_framework import engine_contract as ec
from airflow_backtest_framework.config import SweepConfig
from services.airflow.transport import ApiRequest
from services.dag_generator import render_dag
from services.registry import SweepRegistry
from services.settings import PROJECT_ROOT
from tests.support.fake_airflow import FakeAirflow, FakeRun

API_ROOT = "/api/v2"
TOKEN_PATH = "/auth/token"
FAKE_TOKEN = "bench.fake.token"  # not a JWT: the transport keeps a token without `exp` for good
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
UPDATE_PATH = "/_dash-update-component"

# The 10,000-point sweep of the Monitor benchmark: 1,000 mapped chunks of 10 points, mid-run.
SWEEP_10K = {
    "name": "bench_mon10k",
    "strategy": "MeanReversionStrategy",
    "params": {
        "lookback_period": "10:109:100",
        "entry_threshold": "1:3:10",
        "stop_loss_pct": "0.05:0.1:10",
        "cooldown_period": "5",
    },
    "universe": ["AAPL"],
    "start_date": "2015-01-01",
    "end_date": "2024-12-31",
    "owner": "bench",
}
RUN_10K = "manual__2026-01-01T00:00:00+00:00"
CHUNKS_DONE, CHUNKS_RUNNING, CHUNKS_FAILED = 600, 50, 20  # the other chunks are queued


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- fake Airflow over HTTP


class FakeAirflowServer:
    """tests.support.fake_airflow.FakeAirflow behind a real HTTP server (`/api/v2`, `/auth/token`).

    The app reaches it with its own HttpTransport, exactly as it reaches a real Airflow; `count`
    is the number of API requests that arrived (the upstream load the app puts on Airflow).
    """

    def __init__(self, dags_folder: Path) -> None:
        self.fake = FakeAirflow(dags_folder)
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

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real Airflow API server
            # Headers and body go out in two writes: with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms on a kept-alive connection). Real API servers set TCP_NODELAY too.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _dispatch(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                parts = urlsplit(self.path)
                if parts.path == TOKEN_PATH:
                    self._answer(201, {"access_token": FAKE_TOKEN})
                    return
                if not parts.path.startswith(API_ROOT):
                    self._answer(404, {"detail": "not found"})
                    return
                with server._lock:
                    server.count += 1
                    server.paths[f"{self.command} {parts.path[len(API_ROOT) :]}"] += 1
                request = ApiRequest(
                    self.command, parts.path[len(API_ROOT) :], dict(parse_qsl(parts.query)), body
                )
                response = server.fake(request)
                self._answer(response.status, response.json)

            do_GET = do_POST = do_PATCH = _dispatch

        return Handler


def seed_10k_sweep(fake: FakeAirflow, registry: SweepRegistry, results_root: Path) -> SweepConfig:
    """Save, "deploy" and start the 10,000-point sweep: 1,000 mapped chunks in mixed states, and the
    result files of the chunks that succeeded (the monitor lists them every poll)."""
    config = SweepConfig.model_validate(SWEEP_10K)
    assert config.grid_size == 10_000 and config.task_count == 1_000, (config.grid_size, config.task_count)
    registry.save(config)
    registry.record_deploy(config.name, config.spec_hash)
    registry.record_run(config.name, RUN_10K)
    (fake.dags_folder / f"{config.dag_id}.py").write_text(render_dag(config))
    fake.paused[config.dag_id] = False
    started = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    run = FakeRun(run_id=RUN_10K, conf={}, state="running", start_date=started)
    run.other_states["plan"] = "success"
    states = (
        ["success"] * CHUNKS_DONE
        + ["running"] * CHUNKS_RUNNING
        + ["failed"] * CHUNKS_FAILED
        + ["queued"] * (config.task_count - CHUNKS_DONE - CHUNKS_RUNNING - CHUNKS_FAILED)
    )
    run.chunk_states = dict(enumerate(states))
    fake.runs[config.dag_id] = [run]
    chunks = config.chunks()
    points = results_root / ec.run_prefix(config.dag_id, RUN_10K) / ec.POINTS_DIR
    points.mkdir(parents=True, exist_ok=True)
    for chunk in range(CHUNKS_DONE):
        start, count = chunks[chunk]
        for index in range(start, start + count):
            record = {"index": index, "params": config.point(index), "metrics": {"sharpe": index % 7 / 7}}
            (points / f"{index}.json").write_text(json.dumps(record))
    return config


# --------------------------------------------------------------------------- Dash callback requests


def _split_output(output: str) -> list[tuple[Any, str]]:
    """`..a.b...c.d..` or `a.b` -> [(id, property)], pattern-matching ids parsed from their JSON."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    pairs = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        pairs.append((json.loads(ident) if ident.startswith("{") else ident, prop))
    return pairs


def _is_wildcard(ident: Any) -> bool:
    return isinstance(ident, dict) and any(isinstance(v, list) for v in ident.values())


@dataclass(frozen=True)
class CallbackSpec:
    output: str
    inputs: list[dict]
    state: list[dict]

    @property
    def multi(self) -> bool:
        return self.output.startswith("..")

    def payload(self, values: dict[str, Any], rows: list[dict] | None = None, changed: str = "") -> dict:
        """The body the renderer POSTs: `values` by `id.property`; wildcard outputs expanded over `rows`."""
        outputs: list[Any] = []
        for ident, prop in _split_output(self.output):
            if _is_wildcard(ident):
                outputs.append(
                    [
                        {
                            "id": {k: (row[k] if isinstance(v, list) else v) for k, v in ident.items()},
                            "property": prop,
                        }
                        for row in rows or []
                    ]
                )
            else:
                outputs.append({"id": ident, "property": prop})

        def dep(item: dict) -> dict:
            return {**item, "value": values.get(f"{item['id']}.{item['property']}")}

        inputs = [dep(item) for item in self.inputs]
        return {
            "output": self.output,
            "outputs": outputs if self.multi else outputs[0],
            "inputs": inputs,
            "changedPropIds": [changed or f"{inputs[0]['id']}.{inputs[0]['property']}"],
            "state": [dep(item) for item in self.state],
        }


def callback_specs(dependencies: list[dict]) -> dict[str, CallbackSpec]:
    """Server-side callbacks by output string (clientside ones are the browser's business)."""
    return {
        dep["output"]: CallbackSpec(dep["output"], dep["inputs"], dep["state"])
        for dep in dependencies
        if not dep.get("clientside_function")
    }


def find_callback(specs: dict[str, CallbackSpec], fragment: str) -> CallbackSpec:
    matches = [spec for output, spec in specs.items() if fragment in output]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} callbacks output {fragment!r}")
    return matches[0]


def http_json(url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    """GET (or POST `body` as JSON); (status, parsed body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


def response_value(body: dict, component: str, prop: str) -> Any:
    return body["response"][component][prop]


# --------------------------------------------------------------------------- app processes


@dataclass
class AppProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def app_env(folder: Path, port: int, airflow_url: str, cache: str, **extra: str) -> dict[str, str]:
    """The environment of an app process: its port, its cache folder, the shared workspace folders
    under `folder` (registry, dags, results) and the (fake) Airflow."""
    return {
        **os.environ,
        "MODE": "local",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_DATA_DIR": str(folder / "data"),
        "CACHE_DIR": str(folder / cache),
        "AIRFLOW_URL": airflow_url,
        "AIRFLOW_USERNAME": "admin",
        "AIRFLOW_PASSWORD": "admin",
        "AIRFLOW_HOME": str(folder / "airflow"),
        "LOCAL_DAGS_FOLDER": str(folder / "dags"),
        "RESULTS_ROOT": str(folder / "results"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> float:
    """Seconds until `GET url` answered 200; raises if the process died or never answered."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def run_app(
    command: list[str], env: dict[str, str], log_path: Path, ready_path: str = "/"
) -> Iterator[AppProcess]:
    """Start an app server in its own session, wait for `GET ready_path`, stop it (and its children) after."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_up(url + ready_path, process)
        yield AppProcess(url, process, log_path)
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def python_app_command() -> list[str]:
    return [sys.executable, "app.py"]


def gunicorn_command(port: int, workers: int, access_log: Path, access_format: str) -> list[str]:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    return [
        gunicorn,
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        access_format,
        "app:server",
    ]


# --------------------------------------------------------------------------- memory


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def rss_mb(pid: int) -> float:
    """VmRSS of one process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(pid: int) -> tuple[float, dict[int, float]]:
    """(RSS of `pid`, RSS of each descendant) in MB."""
    descendants: dict[int, float] = {}
    stack = _children(pid)
    while stack:
        child = stack.pop()
        descendants[child] = rss_mb(child)
        stack += _children(child)
    return rss_mb(pid), descendants


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(func: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(seconds, result) of `func(*args)`."""
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result
