"""The Deploy page's ids and frame: the sweep picker, summary and preflight, the Deploy and Trigger cards."""

from __future__ import annotations

import uuid

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.cards import make_card

WATCH_INTERVAL_MS = 1000


class DeployIds:
    PICK = "deploy-pick"
    SESSION = "deploy-session"  # one id per page load: no two browsers' deploys share a background job
    SUMMARY = "deploy-summary"
    PREFLIGHT = "deploy-preflight"
    PREFLIGHT_REFRESH = "deploy-preflight-refresh"
    DEPLOY = "deploy-button"
    CANCEL = "deploy-cancel"
    LIVE = "deploy-live"  # the steps while the job runs (the background callback's progress output)
    RESULT = "deploy-result"  # the finished DeployProgress
    PANEL = (
        "deploy-panel"  # the steps when no job runs: the last deployment (any host's), or the steps to come
    )
    WATCH = "deploy-watch"  # re-reads the last deployment while one started elsewhere runs
    ALERT = "deploy-alert"
    TRIGGER = "deploy-trigger"
    TRIGGER_HINT = "deploy-trigger-hint"
    TRIGGER_RESULT = "deploy-trigger-result"
    TRIGGERED = "deploy-triggered"  # when this page last triggered a run (then the shell re-reads the record)


def _deploy_card() -> dbc.Card:
    buttons = html.Div(
        [
            dbc.Button("Deploy", id=DeployIds.DEPLOY, color="primary", disabled=True),
            dbc.Button("Cancel", id=DeployIds.CANCEL, color="secondary", outline=True, disabled=True),
        ],
        className="d-flex gap-2 mb-3",
    )
    return make_card(
        "1 · Deploy",
        [
            buttons,
            html.Div(id=DeployIds.ALERT),
            html.Div(id=DeployIds.LIVE, hidden=True),
            html.Div(id=DeployIds.PANEL),
        ],
    )


def _trigger_card() -> dbc.Card:
    return make_card(
        "2 · Trigger",
        [
            html.Div(
                [
                    dbc.Button("Trigger run", id=DeployIds.TRIGGER, color="success", disabled=True),
                    html.Span(id=DeployIds.TRIGGER_HINT, className="bt-help ms-3"),
                ],
                className="d-flex align-items-center mb-2",
            ),
            dcc.Loading(html.Div(id=DeployIds.TRIGGER_RESULT), type="dot"),
        ],
    )


def make_deploy_layout() -> html.Div:
    refresh = dbc.Button(
        "Re-check", id=DeployIds.PREFLIGHT_REFRESH, size="sm", color="link", class_name="p-0 bt-card-action"
    )
    return html.Div(
        [
            dcc.Store(id=DeployIds.SESSION, data=uuid.uuid4().hex),
            dcc.Store(id=DeployIds.RESULT),
            dcc.Store(id=DeployIds.TRIGGERED),
            dcc.Interval(id=DeployIds.WATCH, interval=WATCH_INTERVAL_MS, disabled=True),
            html.Div(
                [
                    html.H1("Deploy and trigger", className="bt-page-title"),
                    dbc.InputGroup(
                        [
                            dbc.InputGroupText("Sweep"),
                            dbc.Select(id=DeployIds.PICK, placeholder="Choose a saved sweep…"),
                        ],
                        size="sm",
                        class_name="bt-pick",
                    ),
                ],
                className="bt-page-head",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            make_card("Sweep", dcc.Loading(html.Div(id=DeployIds.SUMMARY), type="dot")),
                            make_card(
                                "Preflight",
                                dcc.Loading(html.Div(id=DeployIds.PREFLIGHT), type="dot"),
                                refresh,
                            ),
                        ],
                        lg=5,
                    ),
                    dbc.Col([_deploy_card(), _trigger_card()], lg=7),
                ],
                class_name="g-3",
            ),
        ],
        className="bt-page",
    )
