"""Which role each server callback needs, declared in one table keyed by the callback's function."""

from __future__ import annotations

from enum import StrEnum

from services.auth import Role


class Access(StrEnum):
    """KIOSK: a viewer, or a browser holding a live kiosk link; the others: that role or above."""

    KIOSK = "kiosk"
    VIEWER = Role.VIEWER.value
    RESEARCHER = Role.RESEARCHER.value
    ADMIN = Role.ADMIN.value

    @property
    def role(self) -> Role:
        return Role.VIEWER if self is Access.KIOSK else Role(self.value)


ROUTER = "dash.dash.Dash.enable_pages.<locals>.router_async.<locals>.update"
BACKGROUND_CANCEL = "dash.dash.Dash._setup_server.<locals>.cancel_call"

# Every server callback, by `module.qualname` of its function. A callback missing here is refused for
# everyone (default deny), and tests/unit/test_access.py fails for it: classify each new callback.
# RESEARCHER and ADMIN mark the callbacks that change something (saved sweeps, deployments, runs, links);
# the use cases also check the role and the sweep's owner, so a wrong entry here is not the only guard.
CALLBACK_ACCESS: dict[str, Access] = {
    ROUTER: Access.KIOSK,  # a kiosk browser may route to its own /kiosk/<token> page only (see signin)
    BACKGROUND_CANCEL: Access.RESEARCHER,  # stops a running deployment
    "components.shell.refresh_connection": Access.KIOSK,
    "components.shell.refresh_stepper": Access.KIOSK,
    "components.shell.show_user": Access.KIOSK,  # nobody signed in: an empty badge
    "pages.wall.refresh": Access.KIOSK,
    "pages.monitor.show_overview": Access.VIEWER,
    "pages.monitor.open_sweep": Access.VIEWER,
    "pages.monitor.set_refresh": Access.VIEWER,
    "pages.monitor.poll": Access.VIEWER,
    "pages.monitor.show_labels": Access.VIEWER,
    "pages.monitor.show_progress": Access.VIEWER,
    "pages.monitor.show_runs": Access.VIEWER,
    "pages.monitor.show_heatmap": Access.VIEWER,
    "pages.monitor.download": Access.VIEWER,
    "pages.monitor.show_batch_jobs": Access.VIEWER,
    "pages.results.open_sweep": Access.VIEWER,
    "pages.results.load": Access.VIEWER,
    "pages.results.show_heatmap": Access.VIEWER,
    "pages.results.show_points": Access.VIEWER,
    "pages.results.show_equity": Access.VIEWER,
    "pages.results.show_validation": Access.VIEWER,
    "pages.results.export": Access.VIEWER,
    "pages.deploy.fill_picker": Access.VIEWER,
    "pages.deploy.pick_sweep": Access.VIEWER,
    "pages.deploy.show_summary": Access.VIEWER,
    "pages.deploy.show_preflight": Access.VIEWER,  # reads: checks connections and the DAG id
    "pages.deploy.deploy": Access.RESEARCHER,
    "pages.deploy.cancel": Access.RESEARCHER,
    "pages.deploy.show_panel": Access.VIEWER,
    "pages.deploy.record_changed": Access.VIEWER,
    "pages.deploy.trigger": Access.RESEARCHER,
    "pages.connections.run_checks": Access.VIEWER,
    "pages.sweeps.load_rows": Access.VIEWER,
    "pages.sweeps.select": Access.VIEWER,
    "pages.sweeps.show_detail": Access.VIEWER,
    "pages.sweeps.ask": Access.RESEARCHER,  # keeps a pending action on the server
    "pages.sweeps.confirm": Access.RESEARCHER,
    # A damaged record's owner cannot be read: only an admin restores or deletes it.
    "pages.sweeps.repair_damaged_record": Access.ADMIN,
    "pages.configure.apply_draft": Access.VIEWER,
    "pages.configure.switch_strategy": Access.VIEWER,
    "pages.configure.show_lags": Access.VIEWER,
    "pages.configure.show_validation": Access.VIEWER,
    "pages.configure.save": Access.RESEARCHER,
    "pages.configure.clone_options": Access.VIEWER,
    "pages.configure.clone_or_reset": Access.VIEWER,
    "pages.configure.clone_from_url": Access.VIEWER,
    "pages.configure.show_preview": Access.VIEWER,
    "pages.configure.show_data_hint": Access.VIEWER,
    "pages.admin.show_links": Access.VIEWER,  # the service lists them to admins only, says why to others
    "pages.admin.create_link": Access.ADMIN,
    "pages.admin.revoke_link": Access.ADMIN,
    "pages.audit.show_page": Access.ADMIN,  # the audit trail: admins only (the service checks too)
    "pages.audit.export": Access.ADMIN,
}


def callback_name(function: object) -> str:
    """`module.qualname` of a registered callback (Dash wraps it with functools.wraps)."""
    inner = getattr(function, "__wrapped__", function)
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', '?')}"
