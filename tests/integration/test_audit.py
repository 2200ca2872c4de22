"""The audit trail through the use cases, on SQLite and on PostgreSQL: every action, who, from where, how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from services.audit import AuditAction, AuditQuery, Outcome, SqlAuditTrail
from services.auth import Principal, Role
from services.db_tables import audit_events
from services.errors import Forbidden, NotFound, Unavailable
from services.models import NEW_SWEEP
from services.records import SaveConflict
from tests.fakes import FakeServices
from tests.support.databases import BACKENDS, fresh_database
from tests.support.sweeps import small_sweep

ADA = Principal(name="ada@desk", role=Role.RESEARCHER, client="10.0.0.7")
BOSS = Principal(name="boss", role=Role.ADMIN, client="10.0.0.9")
VIC = Principal(name="vic", role=Role.VIEWER, client="10.0.0.8")


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[FakeServices, SqlAuditTrail]:
    audit = SqlAuditTrail(fresh_database(request, request.param, tmp_path))
    return FakeServices.create(tmp_path, audit=audit), audit


def _rows(audit: SqlAuditTrail, sweep: str) -> list[tuple]:
    return [(e.actor, e.client, e.action, e.run_id, e.outcome) for e in reversed(audit.history(sweep))]


def test_every_action_is_recorded_with_user_client_sweep_run_and_outcome(world) -> None:
    services, audit = world
    actions = services.actions
    saved, _ = actions.save(ADA, small_sweep(name="ada_mr"), expected_version=NEW_SWEEP)
    with pytest.raises(SaveConflict):
        actions.save(ADA, small_sweep(name="ada_mr"), expected_version=NEW_SWEEP)
    with pytest.raises(Forbidden):
        actions.save(VIC, small_sweep(name="ada_mr"), expected_version=saved.version)
    assert actions.deploy(ADA, "ada_mr").ok
    run = actions.trigger(ADA, "ada_mr")
    services.runs.fail_chunks(saved.config, run.run_id, [1])
    assert actions.retry_failed(ADA, "ada_mr", run.run_id) == [1]
    actions.cancel(BOSS, "ada_mr", run.run_id)
    with pytest.raises(NotFound):
        actions.cancel(ADA, "ada_mr", "manual__nope")
    assert _rows(audit, "ada_mr") == [
        ("ada@desk", "10.0.0.7", "save", "", "ok"),
        ("ada@desk", "10.0.0.7", "save", "", "refused"),
        ("vic", "10.0.0.8", "save", "", "refused"),
        ("ada@desk", "10.0.0.7", "deploy", "", "ok"),
        ("ada@desk", "10.0.0.7", "trigger", run.run_id, "ok"),
        ("ada@desk", "10.0.0.7", "retry", run.run_id, "ok"),
        ("boss", "10.0.0.9", "cancel", run.run_id, "ok"),
        ("ada@desk", "10.0.0.7", "cancel", "manual__nope", "refused"),
    ]
    newest = audit.history("ada_mr")
    assert "already exists" in newest[-2].reason and "Your role (viewer) cannot save" in newest[-3].reason
    assert all(event.at.tzinfo is not None for event in newest)


def test_failures_are_recorded_with_a_redacted_reason(world) -> None:
    services, audit = world
    services.actions.save(ADA, small_sweep(name="ada_mr"))
    services.deployer.import_error = "SyntaxError in line 3"
    assert not services.actions.deploy(ADA, "ada_mr").ok

    def down(config):
        raise Unavailable("Airflow did not answer at http://admin:hunter2-secret@airflow.internal:8080")

    services.runs.trigger = down
    with pytest.raises(Unavailable):
        services.actions.trigger(ADA, "ada_mr")
    deploy, trigger = audit.history("ada_mr")[1], audit.history("ada_mr")[0]
    assert (deploy.action, deploy.outcome) == (AuditAction.DEPLOY, Outcome.FAILED)
    assert "SyntaxError in line 3" in deploy.reason
    assert (trigger.action, trigger.outcome) == (AuditAction.TRIGGER, Outcome.FAILED)
    assert "Airflow did not answer" in trigger.reason and "hunter2-secret" not in trigger.reason


def test_kiosk_link_changes_are_recorded_without_the_token(world) -> None:
    services, audit = world
    link = services.kiosk.create(BOSS, "floor")
    services.kiosk.revoke(BOSS, link.token)
    with pytest.raises(NotFound):
        services.kiosk.revoke(BOSS, link.token)
    with pytest.raises(Forbidden):
        services.kiosk.create(ADA, "mine")
    page = audit.search(BOSS, AuditQuery(sweep=""))
    got = [(e.actor, e.action, e.outcome, e.run_id) for e in reversed(page.events)]
    assert got == [
        ("boss", "kiosk-link-create", "ok", link.reference),
        ("boss", "kiosk-link-revoke", "ok", link.reference),
        ("boss", "kiosk-link-revoke", "refused", link.reference),
        ("ada@desk", "kiosk-link-create", "refused", ""),
    ]
    assert link.token not in audit.export_csv(BOSS, AuditQuery())


def test_the_audit_page_filters_pages_and_exports_for_admins_only(world) -> None:
    services, audit = world
    for i in range(7):
        services.actions.save(ADA, small_sweep(name=f"ada_{i}"))
    with pytest.raises(Forbidden):
        services.actions.save(VIC, small_sweep(name="vic_sweep"))
    everything = audit.search(BOSS, AuditQuery(page_size=5))
    assert everything.total == 8 and len(everything.events) == 5 and everything.pages == 2
    assert len(audit.search(BOSS, AuditQuery(page=2, page_size=5)).events) == 3
    assert audit.search(BOSS, AuditQuery(actor="vic")).total == 1
    assert audit.search(BOSS, AuditQuery(outcome=Outcome.REFUSED)).events[0].sweep == "vic_sweep"
    assert audit.search(BOSS, AuditQuery(sweep="ada_3", action=AuditAction.SAVE)).total == 1
    today = datetime.now(UTC).date()
    assert audit.search(BOSS, AuditQuery(since=today, until=today)).total == 8
    assert audit.search(BOSS, AuditQuery(until=today - timedelta(days=1))).total == 0
    text = audit.export_csv(BOSS, AuditQuery(actor="ada@desk"))
    lines = text.splitlines()
    assert lines[0] == "at,user,client,action,sweep,run_id,outcome,reason" and len(lines) == 8
    assert ",10.0.0.7,save,ada_6,,ok," in lines[1]
    for who in (VIC, ADA, None):
        with pytest.raises(Forbidden):
            audit.search(who, AuditQuery())
        with pytest.raises(Forbidden):
            audit.export_csv(who, AuditQuery())


def test_postgresql_refuses_to_edit_or_delete_audit_rows(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database = fresh_database(request, "postgresql", tmp_path)
    services = FakeServices.create(tmp_path, audit=SqlAuditTrail(database))
    services.actions.save(ADA, small_sweep(name="ada_mr"))
    for statement in (update(audit_events).values(outcome="ok"), delete(audit_events)):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
            connection.execute(statement)
    assert len(SqlAuditTrail(database).history("ada_mr")) == 1
