"""The sweep registry: one row per saved sweep, and the app's one-time markers (the JSON import).

Revision ID: 0001_sweeps
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_sweeps"
down_revision = None
branch_labels = None
depends_on = None

NAME_CHARS = 200


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(NAME_CHARS), nullable=False, unique=True),
        sa.Column("owner", sa.String(NAME_CHARS), nullable=False, server_default=""),
        # version: the spec's saves (what a form edits); revision: every write (the optimistic lock)
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(NAME_CHARS), nullable=False, server_default=""),
        sa.Column("record", sa.Text, nullable=False),  # SweepRecord JSON
        sa.Column("previous", sa.Text, nullable=True),  # the record before its last write (restore)
    )
    op.create_index("ix_sweeps_updated_at", "sweeps", ["updated_at"])
    op.create_table(
        "app_meta",
        sa.Column("key", sa.String(NAME_CHARS), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_meta")
    op.drop_index("ix_sweeps_updated_at", table_name="sweeps")
    op.drop_table("sweeps")
