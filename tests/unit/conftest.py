"""Unit fixtures: `fake`, an in-memory Airflow for the AirflowClient tests, once per REST API version."""

from __future__ import annotations

import pytest

from tests.support.airflow_api_fake import FakeAirflowApi


@pytest.fixture(params=["v2", "v1"])
def fake(request: pytest.FixtureRequest) -> FakeAirflowApi:
    return FakeAirflowApi(version=request.param)
