"""The AirflowClient over a FakeAirflowApi, as the client's unit tests build it, and their run id."""

from __future__ import annotations

from typing import Any

from services.airflow.client import AirflowClient
from tests.support.airflow_api_fake import FakeAirflowApi

RUN_ID = "manual__2026-01-02T03:04:05.678901+00:00"


def client_for(fake: FakeAirflowApi, **options: Any) -> AirflowClient:
    return AirflowClient(fake, api_version=fake.version, **options)  # type: ignore[arg-type]
