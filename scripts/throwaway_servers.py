"""Throwaway PostgreSQL and Redis servers (Debian's `postgresql`, `redis-server`), for tests and benchmarks.

Each server has its own data folder and a free loopback port, and is stopped (its folder removed) when
the context exits. `scripts/bootstrap.sh --dev` installs the package. PostgreSQL refuses to run as root,
so as root its commands run as the `postgres` user the package created.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STARTUP_TIMEOUT_S = 30.0
POSTGRES_USER = "backtest"
POSTGRES_DB = "backtest"


def postgres_bin(name: str) -> str:
    """The newest installed PostgreSQL's `name` (initdb, pg_ctl, ...); a clear error when none is."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed; run scripts/bootstrap.sh --dev (Debian's postgresql)"
        )
    return found[-1]


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def wait_for_port(port: int, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {STARTUP_TIMEOUT_S:.0f} s")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL; yields its URL `postgresql://backtest@127.0.0.1:<port>/backtest` (trust auth)."""
    root = Path(tempfile.mkdtemp(prefix="bt-postgres-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [postgres_bin("initdb"), "-D", str(data), "-U", POSTGRES_USER, "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [postgres_bin("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options]
    subprocess.run(_as_postgres([*ctl, "-w", "start"]), check=True, capture_output=True)
    try:
        wait_for_port(port, "PostgreSQL")
        subprocess.run(
            _as_postgres(
                [
                    postgres_bin("createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    POSTGRES_USER,
                    POSTGRES_DB,
                ]
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql://{POSTGRES_USER}@127.0.0.1:{port}/{POSTGRES_DB}"
    finally:
        subprocess.run(_as_postgres([*ctl, "-m", "immediate", "stop"]), check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


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
        wait_for_port(port, "Redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
