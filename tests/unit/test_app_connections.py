"""Connections page: each check green or red with its fix; the settings shown hold no secret."""

from __future__ import annotations

import pytest

from components.checks import make_check_list
from services.models import CheckResult
from tests.fakes import use_fake_services


@pytest.fixture
def services(tmp_path):
    return use_fake_services(tmp_path, airflow_password="s3cret-pw")


def test_failing_checks_come_first_with_their_fix():
    checks = [
        CheckResult(key="ok", label="DAG folder writable", ok=True, detail="ok"),
        CheckResult(
            key="api", label="Airflow API", ok=False, detail="connection refused", fix="start Airflow"
        ),
    ]

    rendered = make_check_list(checks)
    rows = [str(row.to_plotly_json()) for row in rendered.children[1].children]

    assert "1 of 2 checks fail." in str(rendered.to_plotly_json())
    assert (
        "Airflow API" in str(rows[0]) and "start Airflow" in str(rows[0]) and "bt-check-bad" in str(rows[0])
    )
    assert "start Airflow" not in str(rows[1])


def test_page_lists_checks_and_settings_without_the_password(services):
    from components.connections_view import settings_rows
    from pages.connections import layout

    services.connections.failing = {"airflow_auth": "HTTP 401: invalid credentials"}
    checked_at, results = services.connection_status.checks(0)
    rendered = str(make_check_list(results).to_plotly_json())
    page = str(layout().to_plotly_json())

    assert "HTTP 401: invalid credentials" in rendered and "check AIRFLOW_USERNAME" in rendered
    assert ("Mode", "local") in settings_rows(services.settings)
    assert services.settings.airflow_password.get_secret_value() not in [
        v for _k, v in settings_rows(services.settings)
    ]
    assert "connections-checks" in page and checked_at > 0
