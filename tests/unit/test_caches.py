"""Caches that survive faults: a damaged SQLite file at start-up or while the app runs, a full disk."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import diskcache
import pytest

from services.caches import RecoveringCache, is_corruption, open_cache
from services.records import DiskFull
from services.shared_cache import DiskSharedCache
from tests.support.faults import aside_folders, corrupt_cache, fill_disk, in_new_thread, small_disk

CACHE_DISK_BYTES = 1024 * 1024  # room for an empty cache's SQLite files
BIG_VALUE_BYTES = 64 * 1024  # more than a full disk has left


def test_a_cache_that_will_not_open_is_moved_aside_and_rebuilt(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "shared"
    diskcache.Cache(str(folder)).set("k", "v")
    corrupt_cache(folder)
    with pytest.raises(sqlite3.DatabaseError):
        diskcache.Cache(str(folder))  # what the app did before: every page using it failed

    with caplog.at_level(logging.WARNING, logger="services.caches"):
        cache = open_cache(folder)

    assert cache.get("k") is None and cache.set("k", "new") and cache.get("k") == "new"
    [aside] = aside_folders(tmp_path, "shared")
    assert (aside / "cache.db").read_bytes().startswith(b"this is not an SQLite database")
    assert f"cache {folder} is damaged" in caplog.text and str(aside) in caplog.text


def test_a_cache_damaged_while_the_app_runs_is_rebuilt_on_first_use(tmp_path: Path) -> None:
    folder = tmp_path / "wall"
    cache = RecoveringCache(folder)
    cache.set("board", "old")
    corrupt_cache(folder)

    assert in_new_thread(lambda: cache.get("board")) is None  # rebuilt: the value is fetched again
    assert in_new_thread(lambda: cache.set("board", "new"))
    assert cache.get("board") == "new" and cache.rebuilt_at is not None
    assert len(aside_folders(tmp_path, "wall")) == 1
    with cache.transact():  # the rebuilt cache takes transactions as before
        assert cache.add("lock", 1) and not cache.add("lock", 2)


def test_a_lock_or_a_full_disk_is_not_taken_for_damage() -> None:
    assert is_corruption(sqlite3.DatabaseError("file is not a database"))
    assert is_corruption(sqlite3.DatabaseError("database disk image is malformed"))
    assert not is_corruption(sqlite3.OperationalError("database is locked"))
    assert not is_corruption(sqlite3.OperationalError("database or disk is full"))


def test_a_full_disk_under_a_cache_says_so_in_words(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", CACHE_DISK_BYTES) as disk:
        cache = RecoveringCache(disk / "flags")
        cache.set("small", 1)
        fill_disk(disk)
        with pytest.raises(DiskFull, match=f"The disk holding {disk / 'flags'} is full"):
            cache.set("big", b"x" * BIG_VALUE_BYTES)
        cache.close()
    assert aside_folders(tmp_path / "disk", "flags") == []  # a full disk throws nothing away


def test_the_app_starts_over_a_damaged_background_callback_cache(tmp_path: Path) -> None:
    from app import CALLBACK_CACHE, create_app
    from services.settings import Settings

    settings = Settings(app_data_dir=tmp_path / "app", cache_dir=tmp_path / "cache")
    folder = settings.cache_dir / CALLBACK_CACHE
    diskcache.Cache(str(folder)).set("job", 1)
    corrupt_cache(folder)

    app = create_app(settings)

    assert app.server is not None
    assert len(aside_folders(settings.cache_dir, CALLBACK_CACHE)) == 1
    assert diskcache.Cache(str(folder)).get("job") is None


def test_monitor_status_survives_the_shared_cache_damaged_while_it_runs(tmp_path: Path) -> None:
    from bench.fake_airflow import FakeDagsFolderAirflow
    from services.airflow.client import AirflowClient
    from services.deploy import DeployService
    from services.monitoring import MonitorService
    from services.results import ResultsService
    from services.runs import RunService
    from services.storage import LocalFolderStore
    from tests.support.sweeps import small_sweep

    airflow = FakeDagsFolderAirflow(tmp_path / "dags")
    client = AirflowClient(airflow)
    config = small_sweep()
    deployer = DeployService(LocalFolderStore(airflow.dags_folder), client, max_grid_points=None)
    assert deployer.deploy(config).ok
    run_id = RunService(client).trigger(config).run_id
    cache = RecoveringCache(tmp_path / "shared")
    monitor = MonitorService(
        client, ResultsService(LocalFolderStore(tmp_path / "results")), DiskSharedCache(cache), ttl_s=60
    )
    assert monitor.status(config).run.run_id == run_id
    corrupt_cache(tmp_path / "shared")

    status = in_new_thread(lambda: monitor.status(config))  # was "Unexpected error (DatabaseError)"

    assert status.run is not None and status.run.run_id == run_id and not status.stale
    assert len(aside_folders(tmp_path, "shared")) == 1


def test_two_workers_on_one_damaged_cache_rebuild_it_once(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    first, second = RecoveringCache(folder), RecoveringCache(folder)  # as two gunicorn workers
    first.set("k", "old")
    corrupt_cache(folder)

    assert in_new_thread(lambda: first.get("k")) is None
    first.set("k", "rebuilt")

    assert in_new_thread(lambda: second.get("k")) == "rebuilt"  # the rebuilt cache, not a second rebuild
    assert len(aside_folders(tmp_path, "shared")) == 1
