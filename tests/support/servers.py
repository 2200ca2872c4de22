"""Real PostgreSQL and Redis servers for the tests, from Debian's `postgresql` and `redis-server` packages.

Each server is a throwaway: its own data folder and a free loopback port, stopped (and its folder removed)
when the context exits. `scripts/bootstrap.sh --dev` installs both packages. PostgreSQL refuses to run as
root, so as root its commands run as the `postgres` user the package created.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator

from scripts.throwaway_servers import (  # noqa: F401 - the tests' names for them
    POSTGRES_DB,
    POSTGRES_USER,
    STARTUP_TIMEOUT_S,
    postgres_bin,
    postgres_server,
)
from scripts.throwaway_servers import (
    wait_for_port as _wait_for_port,
)
from tests.support.moto_server import free_port


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A running Redis without persistence; yields its URL `redis://127.0.0.1:<port>/0`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed; run scripts/bootstrap.sh --dev (Debian's redis-server)"
        )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, "Redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
