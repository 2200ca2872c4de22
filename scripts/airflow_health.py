"""Ask the local Airflow's REST API whether it is healthy and for a token."""

from __future__ import annotations

from datetime import datetime

import requests

from services.settings import Settings

HTTP_TIMEOUT_S = 5.0
# Components that must report "healthy"; the triggerer only when Airflow reports one.
REQUIRED_COMPONENTS = ("metadatabase", "scheduler", "dag_processor")
OPTIONAL_COMPONENTS = ("triggerer",)


def get_token(settings: Settings, password: str | None = None) -> str:
    """`POST /auth/token` with the configured (or the given) credentials; return the JWT."""
    secret = settings.airflow_password.get_secret_value() if password is None else password
    body = {"username": settings.airflow_username, "password": secret}
    response = requests.post(f"{settings.airflow_url}/auth/token", json=body, timeout=HTTP_TIMEOUT_S)
    response.raise_for_status()
    return response.json()["access_token"]


def check_health(settings: Settings, since: datetime | None = None) -> tuple[bool, str]:
    """`GET /api/v2/monitor/health` plus a token; heartbeats must be newer than `since` if given."""
    try:
        health = requests.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=HTTP_TIMEOUT_S).json()
    except (requests.RequestException, ValueError) as exc:
        return False, f"API not answering ({type(exc).__name__})"
    present = [c for c in OPTIONAL_COMPONENTS if (health.get(c) or {}).get("status") is not None]
    for component in (*REQUIRED_COMPONENTS, *present):
        info = health.get(component) or {}
        if info.get("status") != "healthy":
            return False, f"{component} is {info.get('status') or 'missing'}"
        beat = info.get(f"latest_{component}_heartbeat")
        if since and beat and datetime.fromisoformat(beat).astimezone() < since:
            return False, f"{component} heartbeat predates this start"  # a job of the previous run
    try:
        get_token(settings)
    except (requests.RequestException, KeyError, ValueError) as exc:
        return False, f"no token for {settings.airflow_username!r} ({exc})"
    return True, "healthy"
