"""Kiosk links in the database, so that every app host opens (and stops) the same wall screens.

Revision ID: 0004_kiosk_links
Revises: 0003_sweep_summaries
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_kiosk_links"
down_revision = "0003_sweep_summaries"
branch_labels = None
depends_on = None

TOKEN_CHARS = 64
LABEL_CHARS = 80
NAME_CHARS = 200


def upgrade() -> None:
    op.create_table(
        "kiosk_links",
        sa.Column("token", sa.String(TOKEN_CHARS), primary_key=True),
        sa.Column("label", sa.String(LABEL_CHARS), nullable=False, server_default=""),
        sa.Column("owner", sa.String(NAME_CHARS), nullable=True),
        sa.Column("strategy", sa.String(NAME_CHARS), nullable=True),
        sa.Column("state", sa.String(NAME_CHARS), nullable=True),
        sa.Column("created_by", sa.String(NAME_CHARS), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kiosk_links")
