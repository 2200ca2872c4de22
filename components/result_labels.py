"""The labels next to a sweep's results (services.result_labels decides which): one look on every page."""

from __future__ import annotations

import logging

import dash_bootstrap_components as dbc
from dash import html

from airflow_backtest_framework.config import SweepConfig
from components.context import get_services
from services.result_labels import ResultLabel, result_labels

log = logging.getLogger(__name__)

TONES = {"synthetic": "danger", "optimistic": "warning", "close_stops": "warning"}


def make_result_labels(labels: list[ResultLabel], compact: bool = False) -> html.Div | None:
    """A row of badges, each with its reason as a tooltip (and as text unless `compact`)."""
    if not labels:
        return None
    badges = [
        dbc.Badge(
            label.text,
            color=TONES.get(label.key, "secondary"),
            text_color="dark" if TONES.get(label.key) == "warning" else None,
            title=label.detail,
            class_name=f"bt-result-label bt-result-label-{label.key}",
        )
        for label in labels
    ]
    if compact:
        return html.Div(badges, className="bt-result-labels bt-result-labels-compact")
    reasons = html.Div(" ".join(label.detail for label in labels), className="bt-help")
    return html.Div([html.Div(badges, className="bt-result-labels"), reasons], className="mb-2")


def make_run_labels(config: SweepConfig, run_id: str | None, compact: bool = False) -> html.Div | None:
    """The labels of a run's results: from one of its result files when it has one, else the spec's."""
    record = None
    if run_id:
        try:
            record = get_services().results.run_record(config.dag_id, run_id)
        except Exception as exc:  # unreadable results: the spec still says what it asked for
            log.info("result record of %s/%s unavailable: %s", config.dag_id, run_id, exc)
    return make_result_labels(result_labels(config, record), compact=compact)
