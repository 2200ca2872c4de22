"""The database's migrations, its command, and the one-time import of an install's JSON records."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, inspect

from services.audit import SqlAuditTrail
from services.auth import Principal, Role
from services.database import Database, current_revision, head_revision, make_engine, upgrade
from services.db_tables import sweeps
from services.kiosk import KioskLink, KioskLinks, _Links
from services.models import SweepRecord
from services.record_import import import_json_records, import_kiosk_links, imported
from services.registry import SweepRegistry
from services.settings import PROJECT_ROOT, Settings
from services.sql_registry import SqlSweepRegistry
from tests.support.databases import BACKENDS, fresh_url
from tests.support.sweeps import small_sweep

FIRST_REVISION = "0001_sweeps"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
BOSS = Principal(name="boss", role=Role.ADMIN)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_url(request, request.param, tmp_path)


def test_an_empty_database_is_migrated_to_head(url: str) -> None:
    engine = make_engine(url)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)  # a second start (or a second host) changes nothing
    assert current_revision(engine) == head_revision() == "0004_kiosk_links"
    assert {"sweeps", "app_meta", "audit_events", "kiosk_links"} <= set(inspect(engine).get_table_names())


def test_a_database_at_an_older_revision_upgrades_keeping_its_rows(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine, FIRST_REVISION)
    assert "audit_events" not in inspect(engine).get_table_names()
    config = small_sweep(name="kept")
    now = datetime.now(UTC)
    text = SweepRecord(config=config, created_at=now, updated_at=now, run_ids=["manual__1"]).model_dump_json()
    with engine.begin() as connection:
        connection.execute(
            insert(sweeps).values(
                name="kept",
                owner=config.owner,
                version=1,
                revision=1,
                updated_at=now,
                updated_by="",
                record=text,
            )
        )
    registry = SqlSweepRegistry(Database(url))  # its first use migrates to head
    assert registry.get("kept").run_ids == ["manual__1"]
    [summary] = registry.summaries()  # a row from before summaries gets one at its first listing
    assert (summary.name, summary.runs, summary.last_run_id) == ("kept", 1, "manual__1")
    assert current_revision(engine) == head_revision()
    assert "audit_events" in inspect(engine).get_table_names()


def _json_install(folder: Path) -> dict[str, object]:
    """An install's JSON records: a deployed sweep with runs, an edited one, and a damaged one."""
    registry = SweepRegistry(folder)
    alpha = registry.save(small_sweep(name="alpha"), by="alice")
    registry.record_deploy("alpha", alpha.config.spec_hash)
    registry.record_run("alpha", "manual__1")
    registry.record_run("alpha", "manual__2")
    registry.save(small_sweep(name="beta", description="one"))
    registry.save(small_sweep(name="beta", description="two"))
    registry.save(small_sweep(name="gamma"))
    registry.save(small_sweep(name="gamma", description="later"))
    (folder / "sweeps" / "gamma.json").write_text("{damaged")
    return {r.name: r for r in registry.list()}


def test_json_records_are_imported_once_with_every_sweep_deployment_and_run(url: str, tmp_path: Path) -> None:
    before = _json_install(tmp_path / "app")
    database = Database(url, prepare=lambda engine: import_json_records(engine, tmp_path / "app"))
    registry = SqlSweepRegistry(database)
    for name, record in before.items():
        assert registry.get(name) == record  # deployment, run ids, versions, authors, times: all kept
    assert registry.get("alpha").run_ids == ["manual__2", "manual__1"]
    [broken] = registry.damaged()
    assert broken.name == "gamma" and broken.has_previous
    assert registry.restore_previous("gamma").version == 1
    assert imported(database.engine)["count"] == 3
    assert sorted(p.name for p in (tmp_path / "app" / "sweeps").glob("*.json")) == [
        "alpha.json",
        "beta.json",
        "gamma.json",
    ]  # the files are left in place

    registry.delete("beta")
    again = Database(url, prepare=lambda engine: import_json_records(engine, tmp_path / "app"))
    assert SqlSweepRegistry(again).find("beta") is None  # a restart imports nothing again
    assert import_json_records(again.engine, tmp_path / "app") is None


def test_the_migrate_command_names_the_database_without_its_password(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = fresh_url(request, "postgresql", tmp_path).replace("backtest@", "backtest:s3cr3t-pw@")
    env = {**os.environ, "DATABASE_URL": url.replace("+psycopg", ""), "APP_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "services.database", "upgrade"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"is at revision {head_revision()}" in done.stdout
    assert "s3cr3t-pw" not in done.stdout + done.stderr
    broken = {**env, "DATABASE_URL": "postgresql://backtest:s3cr3t-pw@127.0.0.1:1/nowhere"}
    failed = subprocess.run(
        [sys.executable, "-m", "services.database", "upgrade"],
        cwd=PROJECT_ROOT,
        env=broken,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1 and "did not answer" in failed.stderr
    assert "s3cr3t-pw" not in failed.stdout + failed.stderr


def test_without_database_url_the_database_is_a_file_in_the_app_data_folder(tmp_path: Path) -> None:
    from services.database import database_url

    assert database_url(Settings(app_data_dir=tmp_path)) == f"sqlite:///{tmp_path / 'backtest.db'}"
    pg = Settings(database_url="postgresql://u:p@db.internal/app")
    assert database_url(pg) == "postgresql+psycopg://u:p@db.internal/app"


def test_kiosk_links_of_the_json_file_are_imported_once(url: str, tmp_path: Path) -> None:
    link = KioskLink(token="tok-" + "x" * 28, label="floor", owner="ann", created_by="boss", created_at=NOW)
    (tmp_path / "kiosk-links.json").write_text(_Links(links={link.token: link}).model_dump_json())
    database = Database(url, prepare=lambda engine: import_kiosk_links(engine, tmp_path))
    links = KioskLinks(database, SqlAuditTrail(database))
    assert links.find(link.token) == link and links.find("tok-other") is None
    links.revoke(BOSS, link.token)
    again = Database(url, prepare=lambda engine: import_kiosk_links(engine, tmp_path))
    assert KioskLinks(again, SqlAuditTrail(again)).find(link.token) is None  # a revoked link stays revoked
    assert (tmp_path / "kiosk-links.json").exists()
