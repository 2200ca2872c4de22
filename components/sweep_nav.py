"""Links to one sweep's pages (Monitor, Results, a clone in Configure), its tabs, and its runs listed."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import dash_bootstrap_components as dbc
from dash import html

from components.states import state_name
from services.models import RunSummary

CONFIGURE_PATH = "/"
MONITOR_PATH = "/monitor"
RESULTS_PATH = "/results"
SWEEP_SEGMENT = "/<sweep>"  # the path template's part naming the sweep
CLONE_PARAM = "clone"  # `/?clone=<name>` loads that sweep's spec into Configure
RUNS_LISTED = 20  # the newest runs a sweep's run selector (Monitor, Results) and the Sweeps detail list


def _sweep_href(path: str, name: str | None) -> str:
    return f"{path}/{quote(name, safe='')}" if name else path


def monitor_href(name: str | None) -> str:
    """`/monitor/<name>`, the name URL-quoted; `/monitor` (every sweep) without one."""
    return _sweep_href(MONITOR_PATH, name)


def results_href(name: str | None) -> str:
    """`/results/<name>`, the name URL-quoted; `/results` (every sweep that ran) without one."""
    return _sweep_href(RESULTS_PATH, name)


def run_option(run: RunSummary) -> dict[str, str]:
    """One run in a sweep page's run selector: `<run id> · <state>`."""
    return {"label": f"{run.run_id} · {state_name(run.state)}", "value": run.run_id}


def clone_href(name: str) -> str:
    """Configure with the saved sweep `name` loaded under a new name."""
    return f"{CONFIGURE_PATH}?{urlencode({CLONE_PARAM: name})}"


# (key, label, href builder) of each page of a sweep, in tab order.
SWEEP_PAGES = (
    ("progress", "Progress", monitor_href),
    ("results", "Results", results_href),
)


def make_sweep_nav(name: str, active: str) -> dbc.Nav:
    """Pills linking the pages of sweep `name`; the one whose key is `active` is highlighted.

    No ids: each page places one, and no callback targets it.
    """
    return dbc.Nav(
        [
            dbc.NavItem(
                dbc.NavLink(label, href=href(name), active=key == active, class_name="bt-sweep-nav-link")
            )
            for key, label, href in SWEEP_PAGES
        ],
        pills=True,
        class_name="bt-sweep-nav",
    )


def make_sweep_head(title: str, name: str, active: str) -> html.Div:
    """A sweep page's heading: `<title> <name>` and the sweep's tabs next to it."""
    return html.Div(
        [
            html.H1([f"{title} ", html.Span(name, className="bt-mono")], className="bt-page-title"),
            make_sweep_nav(name, active),
        ],
        className="bt-sweep-head",
    )
