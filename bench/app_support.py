"""What the app benchmarks need around the app: Dash callback requests built from `/_dash-dependencies`,
app processes (`python app.py`, gunicorn), browsers polling and memory (the fake Airflow is
bench/airflow_server.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.common import ACCESS_FORMAT, AccessLog
from services.settings import PROJECT_ROOT

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
UPDATE_PATH = "/_dash-update-component"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    def callbacks(self, tag: str = "") -> dict[str, CallbackSpec]:
        """The app's server-side callbacks from `GET /_dash-dependencies` (tagged `?bench=<tag>` if given)."""
        query = f"?bench={tag}" if tag else ""
        status, dependencies = http_json(f"{self.url}/_dash-dependencies{query}")
        assert status == 200, status
        return callback_specs(dependencies)

    def update(self, payload: dict, tag: str) -> tuple[float, tuple[int, Any]]:
        """(seconds, (status, body)) of one callback POST, tagged `?bench=<tag>` for its access log line."""
        return timed(http_json, f"{self.url}{UPDATE_PATH}?bench={tag}", payload)


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


@contextmanager
def run_gunicorn(
    workspace: Path, airflow_url: str, name: str, workers: int, **extra: str
) -> Iterator[tuple[AppProcess, AccessLog]]:
    """The app under gunicorn (`workers` sync workers) on a free port, with its own cache folder
    `cache-<name>` and its access log `access-<name>.log` (the server times); stopped after."""
    port = free_port()
    access = AccessLog(workspace / f"access-{name}.log")
    env = app_env(workspace, port, airflow_url, cache=f"cache-{name}", **extra)
    command = gunicorn_command(port, workers, access.path, ACCESS_FORMAT)
    with run_app(command, env, workspace / f"gunicorn-{name}.log") as app:
        yield app, access


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


# --------------------------------------------------------------------------- browsers polling


class Poller:
    """A browser tab whose dcc.Interval fires every `interval_s`: `poll_once(tick)` is one round of
    its requests; a failed round is remembered in `errors`, not raised."""

    interval_s: float

    def __init__(self) -> None:
        self.errors: list[str] = []

    def poll_once(self, tick: int) -> object:
        raise NotImplementedError

    def run(self, started: float, seconds: float, offset: float) -> None:
        """Poll from `started + offset` until `started + seconds`, once an interval."""
        tick, next_at = 0, started + offset
        while next_at < started + seconds:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            tick += 1
            try:
                self.poll_once(tick)
            except Exception as exc:  # a failed request is a result, not a crash of the benchmark
                self.errors.append(f"{type(exc).__name__}: {exc}")
            next_at += self.interval_s


PollerT = TypeVar("PollerT", bound=Poller)


def poll_together(pollers: list[PollerT], seconds: float) -> list[PollerT]:
    """Every poller in its own thread for `seconds`, each from its own random phase in its interval."""
    rng = random.Random(len(pollers))
    started = time.perf_counter()
    threads = [
        threading.Thread(target=p.run, args=(started, seconds, rng.uniform(0, p.interval_s))) for p in pollers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pollers


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


def spread(samples_ms: list[float], *qs: float) -> str:
    """Percentiles of millisecond samples, p50 and p95 unless `qs` says: `p50 12 ms, p95 30 ms, max 41 ms`."""
    named = [("max" if q == 1.0 else f"p{q * 100:g}", q) for q in qs or (0.5, 0.95)]
    return ", ".join(f"{name} {percentile(samples_ms, q):.0f} ms" for name, q in named)


def errors_of(*pollers: list[Poller]) -> list[str]:
    """Every error the pollers of each group met, in order."""
    return [error for group in pollers for poller in group for error in poller.errors]


def load_line(
    pollers: str,
    interval_s: float,
    seconds: float,
    workers: int,
    access: AccessLog,
    tag: str,
    errors: list[str],
) -> str:
    """What a load phase did: `<pollers> x every <interval> s for <seconds> s, gunicorn -w <workers>`, the
    workers that answered the requests tagged `tag`, the refreshes answered 200 and the first errors."""
    answered, refreshes = len(access.pids(f"bench={tag}")), len(access.server_ms(f"bench={tag} "))
    shown = f": {errors[:3]}" if errors else ""
    return (
        f"  {pollers} x every {interval_s:g} s for {seconds:g} s, gunicorn -w {workers} ({answered} workers"
        f" answered): {refreshes} refreshes, {len(errors)} errors{shown}"
    )


def timed(func: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(seconds, result) of `func(*args)`."""
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result
