"""Two app instances as two hosts run them, for the tests and bench_cluster: gunicorn on two ports, each
with its own data and cache folders, sharing one PostgreSQL, one Redis, a Celery worker and a fake Airflow."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.airflow_server import FakeAirflowServer
from bench.app_support import free_port, stop_group
from bench.common import ACCESS_FORMAT
from services.airflow.transport import ApiRequest, ApiResponse
from services.bootstrap import open_database
from services.settings import PROJECT_ROOT, Settings
from services.sql_registry import SqlSweepRegistry

GUNICORN_WORKERS = 2
START_TIMEOUT_S = 60.0
WORKER_READY = "ready."  # Celery's log line once the worker consumes its queue
REDIS_DATABASES = 16  # redis-server's default: each cluster gets its own database (queue, caches)
_next_db = itertools.count(1)


class HeldAirflow:
    """The fake Airflow's transport, able to leave a DAG unregistered for a while (`hold`), so that a
    deploy waits at its registration step; everything else is the fake's (runs, states, counts)."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self._held: dict[str, float] = {}  # dag id -> until when (monotonic) it is not registered

    def hold(self, dag_id: str, seconds: float) -> None:
        self._held[dag_id] = time.monotonic() + seconds

    def release(self) -> None:
        self._held.clear()

    def __call__(self, request: ApiRequest) -> ApiResponse:
        parts = request.path.strip("/").split("/")
        held_until = self._held.get(parts[1]) if len(parts) == 2 and parts[0] == "dags" else None
        if request.method == "GET" and held_until is not None and time.monotonic() < held_until:
            return ApiResponse(404, {"detail": f"The Dag with ID: `{parts[1]}` was not found"})
        return self.fake(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fake, name)


@dataclass
class Instance:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def kill(self) -> None:
        """As a host that dies: SIGKILL to gunicorn and its workers, no shutdown."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def warm(self) -> None:
        """Each worker builds its services (and checks the database's schema) before the first user comes:
        /readyz uses them all."""
        for _ in range(GUNICORN_WORKERS * 2):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.url + "/readyz", timeout=30).close()

    def serving(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False


@dataclass
class Cluster:
    a: Instance
    b: Instance
    worker: subprocess.Popen
    airflow: FakeAirflowServer
    held: HeldAirflow
    workspace: Path
    env: dict[str, str]

    def settings(self) -> Settings:
        """The settings the instances run with (the test process reads the same database and Redis)."""
        keys = ("MODE", "AIRFLOW_URL", "LOCAL_DAGS_FOLDER", "RESULTS_ROOT", "DATABASE_URL", "REDIS_URL")
        return Settings(
            **{key.lower(): self.env[key] for key in keys},
            app_data_dir=self.workspace / "test-data",
            cache_dir=self.workspace / "test-cache",
        )

    def registry(self) -> SqlSweepRegistry:
        return SqlSweepRegistry(open_database(self.settings()), max_grid_points=None)


def cluster_env(workspace: Path, airflow_url: str, redis_url: str, postgres_url: str, **extra: str) -> dict:
    """What every process of the cluster shares; each instance adds its port and its own folders."""
    database = next(_next_db) % REDIS_DATABASES or 1
    return {
        **os.environ,
        "MODE": "local",
        "HOST": "127.0.0.1",
        "AIRFLOW_URL": airflow_url,
        "AIRFLOW_USERNAME": "admin",
        "AIRFLOW_PASSWORD": "admin",
        "LOCAL_DAGS_FOLDER": str(workspace / "dags"),  # Airflow's: S3 in AWS mode
        "RESULTS_ROOT": str(workspace / "results"),
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + f"/{database}",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _own(env: dict[str, str], folder: Path, **extra: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        **env,
        "APP_DATA_DIR": str(folder / "data"),
        "CACHE_DIR": str(folder / "cache"),
        "AIRFLOW_HOME": str(folder / "airflow"),
        **extra,
    }


def _wait(ready: Any, process: subprocess.Popen, log_path: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {START_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-3000:]}")


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "w") as log:
        return subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


@contextmanager
def instance(
    name: str, env: dict[str, str], folder: Path, access_log: Path | None = None
) -> Iterator[Instance]:
    """One app host: `gunicorn -w 2 app:server` on a free port with its own data and cache folders."""
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    command = [gunicorn, "-w", str(GUNICORN_WORKERS), "-b", f"127.0.0.1:{port}", "app:server"]
    if access_log is not None:
        command[-1:-1] = ["--access-logfile", str(access_log), "--access-logformat", ACCESS_FORMAT]
    own = _own(env, folder / name, PORT=str(port))
    log_path = folder / f"gunicorn-{name}.log"
    process = _start(command, own, log_path)
    served = Instance(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait(served.serving, process, log_path, f"instance {name}")
        served.warm()
        yield served
    finally:
        stop_group(process)


@contextmanager
def celery_worker(env: dict[str, str], folder: Path) -> Iterator[subprocess.Popen]:
    """The Celery worker (what scripts/worker.sh runs), with the instances' settings and its own folders."""
    log_path = folder / "celery-worker.log"
    command = [sys.executable, "-m", "celery", "-A", "app:celery_app", "worker", "--loglevel=INFO"]
    command += ["--concurrency=2", f"--hostname=test-{os.getpid()}-{time.monotonic_ns()}@%h"]
    process = _start(command, _own(env, folder / "worker"), log_path)
    try:
        _wait(lambda: WORKER_READY in log_path.read_text(), process, log_path, "the Celery worker")
        yield process
    finally:
        stop_group(process)


@contextmanager
def two_instances(
    workspace: Path, redis_url: str, postgres_url: str, access_logs: bool = False, **extra: str
) -> Iterator[Cluster]:
    """A fake Airflow, a Celery worker and instances A and B; `extra` settings for every process."""
    (workspace / "dags").mkdir(parents=True, exist_ok=True)
    server = FakeAirflowServer(workspace / "dags")
    held = HeldAirflow(server.fake)
    server.fake = held  # the server's handler calls `server.fake` for every request
    with ExitStack() as stack:
        stack.enter_context(server)
        env = cluster_env(workspace, server.url, redis_url, postgres_url, **extra)
        worker = stack.enter_context(celery_worker(env, workspace))
        a, b = (
            stack.enter_context(
                instance(name, env, workspace, workspace / f"access-{name}.log" if access_logs else None)
            )
            for name in "ab"
        )
        yield Cluster(a, b, worker, server, held, workspace, env)
