"""E2E harness: the app as a real server process and a headless Chromium that fails a test on console
errors or on any request to a host other than the app's own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
]
FAKE_SERVICES_ENV = "BACKTEST_FAKE_SERVICES"
SERVER_START_TIMEOUT_S = 60.0
FAKE_RUN_SECONDS = 20  # a fake run finishes this long after its trigger
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
VIEWPORTS = {"1366x768": {"width": 1366, "height": 768}, "1920x1080": {"width": 1920, "height": 1080}}


def _free_port() -> int:
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


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    """`python app.py` (or, with BACKTEST_FAKE_SERVICES=1, the same app over fake services) on a free port."""
    folder = tmp_path_factory.mktemp("e2e-app")
    port = _free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_DATA_DIR": str(folder / "data"),
        "CACHE_DIR": str(folder / "cache"),
        "PYTHONUNBUFFERED": "1",
        "FAKE_RUN_SECONDS": str(FAKE_RUN_SECONDS),
    }
    fake = os.environ.get(FAKE_SERVICES_ENV, "1") == "1"
    entry = "tests/e2e/serve_fake.py" if fake else "app.py"
    log_path = folder / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, entry],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url + "/", process, log_path)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and its background-callback children
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

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
def open_page(browser, app_url):
    """open_page(viewport="1366x768", theme="light") -> a fresh browser context's page, watched."""
    contexts, watches = [], []

    def _open(viewport: str = "1366x768", theme: str = "light"):
        context = browser.new_context(viewport=VIEWPORTS[viewport])
        context.add_init_script(f"window.localStorage.setItem('shell-theme', JSON.stringify('{theme}'));")
        page = context.new_page()
        page.set_default_timeout(15_000)
        watch = PageWatch(app_url)
        watch.attach(page)
        contexts.append(context)
        watches.append(watch)
        return page

    yield _open
    for context in contexts:
        context.close()
    for watch in watches:
        watch.check()
