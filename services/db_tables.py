"""The tables the queries use, as SQLAlchemy Core (the schema itself is made by services/migrations)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

sweeps = Table(
    "sweeps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("owner", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String, nullable=False),
    Column("record", Text, nullable=False),
    Column("previous", Text),
    Column("summary", Text),  # SweepSummary JSON of `record` (None: not computed yet, or unreadable)
    Column("record_sha", String),  # sha256 of `record` as the app wrote it
)

app_meta = Table(
    "app_meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String, nullable=False),
    Column("client", String, nullable=False),
    Column("action", String, nullable=False),
    Column("sweep", String, nullable=False),
    Column("run_id", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("reason", String, nullable=False),
)

kiosk_links = Table(
    "kiosk_links",
    metadata,
    Column("token", String, primary_key=True),
    Column("label", String, nullable=False),
    Column("owner", String),
    Column("strategy", String),
    Column("state", String),
    Column("created_by", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def utc(moment: datetime) -> datetime:
    """A timestamp read back as UTC (SQLite keeps none of the timezone it was given)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
