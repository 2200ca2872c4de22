"""The Create → Deploy → Trigger → Monitor stepper: where the current sweep stands, and its rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dash import dcc, html

from components.sweep_nav import monitor_href
from services.models import SweepRecord

StepStatus = Literal["done", "current", "open", "locked"]


@dataclass(frozen=True)
class StepView:
    key: str
    label: str
    status: StepStatus
    href: str
    note: str = ""


def step_states(record: SweepRecord | None) -> list[StepView]:
    """Each step done, current (the next thing to do), open (can be revisited) or locked."""
    if record is None:
        return [
            StepView("create", "Create", "current", "/", "configure a sweep"),
            StepView("deploy", "Deploy", "locked", "/deploy"),
            StepView("trigger", "Trigger", "locked", "/deploy"),
            StepView("monitor", "Monitor", "locked", monitor_href(None)),
        ]
    name = record.name
    config = record.config
    deployed = record.deployed_hash is not None and record.deployed_hash == config.spec_hash
    changed = record.deployed_hash is not None and not deployed
    has_runs = bool(record.run_ids)
    create = StepView("create", "Create", "done", "/", f"{config.grid_size:,} points")
    if not deployed:
        note = "spec changed: redeploy" if changed else "not deployed"
        monitor_status: StepStatus = "open" if has_runs else "locked"
        return [
            create,
            StepView("deploy", "Deploy", "current", "/deploy", note),
            StepView("trigger", "Trigger", "locked", "/deploy"),
            StepView(
                "monitor", "Monitor", monitor_status, monitor_href(name), "earlier runs" if has_runs else ""
            ),
        ]
    deploy = StepView("deploy", "Deploy", "done", "/deploy", "deployed")
    if not has_runs:
        return [
            create,
            deploy,
            StepView("trigger", "Trigger", "current", "/deploy", "ready to run"),
            # open: a deployed sweep may have runs started in Airflow's UI, its API or a schedule
            StepView("monitor", "Monitor", "open", monitor_href(name)),
        ]
    runs = len(record.run_ids)
    return [
        create,
        deploy,
        StepView("trigger", "Trigger", "done", "/deploy", f"{runs} run" + ("s" if runs > 1 else "")),
        StepView("monitor", "Monitor", "current", monitor_href(name), "watch the latest run"),
    ]


_MARKS = {"done": "✓", "current": "", "open": "", "locked": ""}


def make_stepper(record: SweepRecord | None) -> html.Div:
    """The stepper bar: the sweep's name, then the four steps as links (locked ones inert)."""
    items = []
    for number, step in enumerate(step_states(record), start=1):
        badge = html.Span(_MARKS[step.status] or str(number), className="bt-step-badge")
        text = html.Span(
            [
                html.Span(step.label, className="bt-step-label"),
                html.Span(step.note, className="bt-step-note"),
            ],
            className="bt-step-text",
        )
        classes = f"bt-step bt-step-{step.status}"
        if step.status == "locked":
            items.append(
                html.Span([badge, text], className=classes, title="complete the previous step first")
            )
        else:
            items.append(dcc.Link([badge, text], href=step.href, className=classes))
        items.append(html.Span(className="bt-step-sep"))
    items.pop()
    sweep = record.name if record is not None else "no sweep selected"
    return html.Div(
        [
            html.Div(
                [
                    html.Span("Sweep", className="bt-stepper-caption"),
                    html.Span(sweep, className="bt-stepper-name"),
                ],
                className="bt-stepper-sweep",
            ),
            html.Nav(items, className="bt-stepper-steps", **{"aria-label": "workflow"}),
        ],
        className="bt-stepper",
    )
