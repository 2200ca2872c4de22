"""A moto server process for tests that span processes (a mock_aws decorator patches only its own)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import requests

START_TIMEOUT_S = 30.0
POLL_S = 0.1
STOP_TIMEOUT_S = 5.0
# Batch jobs succeed at once instead of running in docker.
MOTO_CONFIG = {"batch": {"use_docker": False}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure(url: str) -> None:
    """Apply MOTO_CONFIG through moto's config API (`POST /moto-api/config`)."""
    response = requests.post(f"{url}/moto-api/config", json=MOTO_CONFIG, timeout=5)
    response.raise_for_status()


def reset(url: str) -> None:
    """Forget every resource (`POST /moto-api/reset`), then configure again."""
    requests.post(f"{url}/moto-api/reset", timeout=5).raise_for_status()
    configure(url)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """`python -m moto.server` on a free local port; yields its URL and stops the process after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {process.returncode}")
            try:
                requests.get(f"{url}/moto-api/data.json", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server not up on {url} after {START_TIMEOUT_S:g} s") from None
                time.sleep(POLL_S)
        configure(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
