"""E2E harness: the app as a real server process and a headless Chromium that fails a test on console
errors or on any request to a host other than the app's own.

Three ways to serve the app, each a real server process:
- `app_url`: over fake services (tests/e2e/serve_fake.py; `BACKTEST_FAKE_SERVICES=0` runs `app.py`);
- `real_app_url`: `python app.py` against the real local Airflow of `airflow_stack`;
- `gunicorn_app`: `gunicorn -w 2 app:server` against the same Airflow, with an access log naming the
  worker that served each request.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.browser import CHROMIUM, CHROMIUM_ARGS  # one Chromium set-up for the benches and tests
from services.settings import PROJECT_ROOT, Settings
from tests.fakes import FakeServices

FAKE_SERVICES_ENV = "BACKTEST_FAKE_SERVICES"
FAKE_SERVER = "tests/e2e/serve_fake.py"
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
# One patience for actions and assertions: Playwright's assertions wait 5 s by default, too little for a
# server callback on 2 cores shared with Airflow and other test runs.
UI_TIMEOUT_MS = 15_000
FAKE_RUN_SECONDS = 20  # a fake run finishes this long after its trigger
FAKE_DEPLOY_STEP_S = 1.0  # each fake deploy step takes this long: time to see the steps tick, and to cancel
REAL_REFRESH_INTERVAL_S = 2  # Monitor polls (and the status cache lives) this long against real Airflow
GUNICORN_WORKERS = 2
# pid of the worker, the request line, the status: which worker served what.
GUNICORN_ACCESS_FORMAT = '%(p)s "%(r)s" %(s)s'
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
VIEWPORTS = {"1366x768": {"width": 1366, "height": 768}, "1920x1080": {"width": 1920, "height": 1080}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(
        f"the app did not answer within {SERVER_START_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-3000:]}"
    )


def app_env(folder: Path, port: int, airflow: Settings | None = None, **extra: str) -> dict[str, str]:
    """The environment of an app process: its own port, data and cache folders, and the Airflow to use."""
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_DATA_DIR": str(folder / "data"),
        "CACHE_DIR": str(folder / "cache"),
        "PYTHONUNBUFFERED": "1",
    }
    if airflow is not None:
        env |= {
            "MODE": "local",
            "AIRFLOW_URL": airflow.airflow_url,
            "AIRFLOW_USERNAME": airflow.airflow_username,
            "AIRFLOW_PASSWORD": airflow.airflow_password.get_secret_value(),
            "AIRFLOW_HOME": str(airflow.airflow_home),
            "LOCAL_DAGS_FOLDER": str(airflow.local_dags_folder),
            "RESULTS_ROOT": str(airflow.results_root),
        }
    return env | extra


@dataclass
class ServedApp:
    url: str
    process: subprocess.Popen
    log_path: Path


@contextmanager
def serve(
    command: list[str], env: dict[str, str], folder: Path, ready_path: str = "/"
) -> Iterator[ServedApp]:
    """Start a server process in its own session, wait for `GET ready_path` (`/` unless sign-in guards it),
    and stop it with its children."""
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        _wait_until_up(url + ready_path, process, log_path)
        yield ServedApp(url, process, log_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server, its workers and background-callback children
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Seeded:
    """A served app over fake services, and those services, to seed or break them from the test."""

    url: str
    services: FakeServices


@contextmanager
def serve_seeded(
    folder: Path, seed: Callable[[Path], FakeServices], run_seconds: float, refresh_s: float
) -> Iterator[Seeded]:
    """Seed fake services in `folder`, then serve the app over them (the server reads the same files)."""
    services = seed(folder)
    env = app_env(folder, free_port(), FAKE_RUN_SECONDS=str(run_seconds), REFRESH_INTERVAL_S=str(refresh_s))
    with serve([sys.executable, FAKE_SERVER], env, folder / "server") as served:
        yield Seeded(served.url, services)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    """`python app.py` (or, with BACKTEST_FAKE_SERVICES=1, the same app over fake services) on a free port."""
    folder = tmp_path_factory.mktemp("e2e-app")
    env = app_env(
        folder,
        free_port(),
        FAKE_RUN_SECONDS=str(FAKE_RUN_SECONDS),
        FAKE_DEPLOY_STEP_DELAY_S=str(FAKE_DEPLOY_STEP_S),
    )
    fake = os.environ.get(FAKE_SERVICES_ENV, "1") == "1"
    entry = FAKE_SERVER if fake else "app.py"
    with serve([sys.executable, entry], env, folder) as served:
        yield served.url


@pytest.fixture(scope="session")
def real_app_url(airflow_stack: Settings, tmp_path_factory) -> Iterator[str]:
    """`python app.py` with the real services, against the real local Airflow of `airflow_stack`."""
    folder = tmp_path_factory.mktemp("e2e-real-app")
    env = app_env(folder, free_port(), airflow_stack, REFRESH_INTERVAL_S=str(REAL_REFRESH_INTERVAL_S))
    with serve([sys.executable, "app.py"], env, folder) as served:
        yield served.url


@dataclass
class GunicornApp:
    url: str
    access_log: Path
    master_pid: int

    def worker_pids_serving(self, fragment: str) -> set[int]:
        """The pids of the workers that answered requests whose request line holds `fragment`."""
        pids = set()
        for line in self.access_log.read_text().splitlines():
            pid, _, rest = line.partition(" ")
            pid = pid.strip("<>")  # gunicorn writes %(p)s as <pid>
            if fragment in rest and pid.isdigit():
                pids.add(int(pid))
        return pids


@pytest.fixture
def gunicorn_app(airflow_stack: Settings, tmp_path) -> Iterator[GunicornApp]:
    """`gunicorn -w 2 app:server`: the real services, both workers sharing one cache folder."""
    port = free_port()
    access_log = tmp_path / "access.log"
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-w",
        str(GUNICORN_WORKERS),
        "-b",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        GUNICORN_ACCESS_FORMAT,
        "app:server",
    ]
    env = app_env(tmp_path, port, airflow_stack, REFRESH_INTERVAL_S=str(REAL_REFRESH_INTERVAL_S))
    with serve(command, env, tmp_path) as served:
        yield GunicornApp(served.url, access_log, served.process.pid)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageWatch:
    """What a page did that a test must not accept: console errors, page errors, foreign requests."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", self._request)

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(request.url)

    def check(self) -> None:
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        assert not self.errors, "browser errors:\n" + "\n".join(self.errors)


@pytest.fixture
def watched_page(browser):
    """watched_page(origin, viewport="1366x768", theme="light") -> (page, its PageWatch) in a fresh context.

    Every watch is checked again when the test ends; call `watch.check()` to assert earlier.
    """
    contexts, watches = [], []

    def _open(origin: str, viewport: str = "1366x768", theme: str = "light"):
        context = browser.new_context(viewport=VIEWPORTS[viewport])
        context.add_init_script(f"window.localStorage.setItem('shell-theme', JSON.stringify('{theme}'));")
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        watch = PageWatch(origin)
        watch.attach(page)
        contexts.append(context)
        watches.append(watch)
        return page, watch

    yield _open
    for context in contexts:
        context.close()
    for watch in watches:
        watch.check()


@pytest.fixture
def open_page(watched_page, app_url):
    """open_page(viewport="1366x768", theme="light") -> a fresh context's page on `app_url`, watched."""

    def _open(viewport: str = "1366x768", theme: str = "light"):
        page, _watch = watched_page(app_url, viewport, theme)
        return page

    return _open
