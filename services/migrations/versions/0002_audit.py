"""The audit trail: who did what to which sweep or run, from where, when, and how it went.

Rows are only ever inserted; on PostgreSQL a trigger refuses UPDATE and DELETE outright.

Revision ID: 0002_audit
Revises: 0001_sweeps
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001_sweeps"
branch_labels = None
depends_on = None

NAME_CHARS = 200
RUN_ID_CHARS = 250
CLIENT_CHARS = 64
ACTION_CHARS = 32
REASON_CHARS = 300

_PG_GUARD = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(NAME_CHARS), nullable=False),
        sa.Column("client", sa.String(CLIENT_CHARS), nullable=False, server_default=""),
        sa.Column("action", sa.String(ACTION_CHARS), nullable=False),
        sa.Column("sweep", sa.String(NAME_CHARS), nullable=False, server_default=""),
        sa.Column("run_id", sa.String(RUN_ID_CHARS), nullable=False, server_default=""),
        sa.Column("outcome", sa.String(ACTION_CHARS), nullable=False),
        sa.Column("reason", sa.String(REASON_CHARS), nullable=False, server_default=""),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_sweep_at", "audit_events", ["sweep", "at"])
    op.create_index("ix_audit_events_actor_at", "audit_events", ["actor", "at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_table("audit_events")
