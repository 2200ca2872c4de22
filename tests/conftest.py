"""Shared fixtures: the local Airflow test instance (`airflow_stack`) and the tier markers."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import local_airflow
from services.settings import PROJECT_ROOT, Settings, load_settings

# Each git worktree running the real-Airflow tests at once sets its own ports (28080 and 28100 by default).
TEST_AIRFLOW_PORT = int(os.environ.get("BACKTEST_TEST_AIRFLOW_PORT", "28080"))
TEST_AIRFLOW_HOME = PROJECT_ROOT / ".local" / "test-airflow"
TEST_RESULTS_ROOT = PROJECT_ROOT / ".local" / "test-results"
TEST_AIRFLOW_USERNAME = "admin"
TEST_AIRFLOW_PASSWORD = "admin"  # fixed, so a kept instance is reusable whatever `.env` says
KEEP_AIRFLOW_ENV = "BACKTEST_KEEP_AIRFLOW"
E2E_FOLDER = "e2e"


def airflow_test_settings(**overrides: object) -> Settings:
    """Settings of the test instance: its own home, dags folder, results and port (not the dev one)."""
    values: dict[str, object] = {
        "mode": "local",
        "airflow_url": f"http://127.0.0.1:{TEST_AIRFLOW_PORT}",
        "airflow_home": TEST_AIRFLOW_HOME,
        "local_dags_folder": TEST_AIRFLOW_HOME / "dags",
        "results_root": TEST_RESULTS_ROOT,
        "airflow_username": TEST_AIRFLOW_USERNAME,
        "airflow_password": TEST_AIRFLOW_PASSWORD,
    }
    return load_settings(**(values | overrides))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/e2e get `e2e`; tests that use the real Airflow get `airflow` (for `-m`)."""
    for item in items:
        if Path(str(item.fspath)).parent.name == E2E_FOLDER:
            item.add_marker("e2e")
        if "airflow_stack" in getattr(item, "fixturenames", ()):
            item.add_marker("airflow")


@pytest.fixture(scope="session")
def airflow_stack() -> Iterator[Settings]:
    """A real local Airflow 3 on TEST_AIRFLOW_PORT, started once per session and stopped at its end.

    An instance of ours that is already running is reused; so is any healthy Airflow answering on
    the port with the test credentials. Only an instance started here is stopped, and not when
    BACKTEST_KEEP_AIRFLOW=1 (keep it warm between runs).
    """
    logging.getLogger("local_airflow").setLevel(logging.INFO)
    settings = airflow_test_settings()
    ours = local_airflow.running_pid(settings) is not None
    foreign_healthy = not ours and local_airflow.check_health(settings)[0]
    began = time.monotonic()
    if foreign_healthy:
        local_airflow.sync_dags_folder(settings)
        print(f"\nairflow_stack: reusing the healthy Airflow at {settings.airflow_url}")
    else:
        local_airflow.start(settings)
        verb, elapsed = ("reused" if ours else "started"), time.monotonic() - began
        print(f"\nairflow_stack: {verb} {settings.airflow_url}, healthy after {elapsed:.1f} s")
    try:
        yield settings
    finally:
        if not ours and not foreign_healthy and os.environ.get(KEEP_AIRFLOW_ENV) != "1":
            local_airflow.stop(settings)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL (Debian's package) for the session: `postgresql://backtest@127.0.0.1:<port>/backtest`."""
    from tests.support.servers import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis (Debian's package) for the session: `redis://127.0.0.1:<port>/0`."""
    from tests.support.servers import redis_server

    with redis_server() as url:
        yield url
