"""Each sweep row keeps its summary (what the Sweeps grid lists) and the checksum of the record the app
wrote, so listing thousands of sweeps reads no full spec, and a record changed outside the app shows.
Existing rows get theirs at their next read (the registry fills what is missing).

Revision ID: 0003_sweep_summaries
Revises: 0002_audit
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sweep_summaries"
down_revision = "0002_audit"
branch_labels = None
depends_on = None

SHA256_HEX_CHARS = 64


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as batch:
        batch.add_column(sa.Column("summary", sa.Text, nullable=True))
        batch.add_column(sa.Column("record_sha", sa.String(SHA256_HEX_CHARS), nullable=True))
    # Listings first look for rows without a summary (few, usually none): a partial index finds them
    # without reading the table.
    unsettled = sa.text("summary IS NULL")
    op.create_index(
        "ix_sweeps_unsettled", "sweeps", ["name"], sqlite_where=unsettled, postgresql_where=unsettled
    )


def downgrade() -> None:
    op.drop_index("ix_sweeps_unsettled", table_name="sweeps")
    with op.batch_alter_table("sweeps") as batch:
        batch.drop_column("record_sha")
        batch.drop_column("summary")
