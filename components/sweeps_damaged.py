"""Damaged sweep records on the Sweeps page: their grid rows, and the panel to restore or delete one."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.cards import CARD_CLASS, make_card
from components.formatting import format_minute
from components.sweeps_layout import DAMAGED
from services.records import DamagedRecord, damaged_message

UNREADABLE = "unreadable record: "  # the description of its row starts so


class SweepsDamagedIds:
    """The damaged-record panel's controls (shown in the detail area when such a row is selected)."""

    RESTORE = "sweeps-damaged-restore"  # restore the previous version (SweepStore.restore_previous)
    DELETE = "sweeps-damaged-delete"  # asks the browser's confirm(), then deletes (SweepStore.delete)


def damaged_row(record: DamagedRecord) -> dict:
    """A grid row for a record that cannot be read: its name, 'damaged', and why (in the description)."""
    return {
        "name": record.name,
        "strategy": "",
        "owner": "",
        "grid_size": None,
        "created": "",
        "deployed": "",
        "deployed_at": "",
        "runs": None,
        "last_run_id": "",
        "last_state": DAMAGED,
        "started": "",
        "duration_s": None,
        "duration": "",
        "description": f"{UNREADABLE}{record.error} (written {format_minute(record.modified_at)})",
        "damaged": True,
        "has_previous": record.has_previous,
    }


def make_damaged_detail(row: dict) -> html.Div:
    """What a selected damaged row offers: restore its previous version (when one is kept), or delete it."""
    record = DamagedRecord(
        name=row["name"],
        error=row["description"].removeprefix(UNREADABLE),
        has_previous=bool(row.get("has_previous")),
    )
    restore = dbc.Button(
        "Restore the previous version",
        id=SweepsDamagedIds.RESTORE,
        color="primary",
        size="sm",
        disabled=not record.has_previous,
        title="" if record.has_previous else "no previous version was kept",
    )
    delete = dcc.ConfirmDialogProvider(
        dbc.Button("Delete the record", color="danger", outline=True, size="sm"),
        id=SweepsDamagedIds.DELETE,
        message=f"Delete the damaged record of {record.name}? Its previous version goes too.",
    )
    body = [
        html.P(damaged_message(record), className="bt-help"),
        html.Div([restore, delete], className="bt-sweeps-buttons"),
    ]
    return make_card(f"{record.name} cannot be read", body, class_name=f"{CARD_CLASS} mt-1")
