"""The tests' own client to the real local Airflow: patient where the app's pages are not.

The app gives one call to Airflow a page's deadline (5 s). A test that sets up sweeps or watches runs
talks to the same Airflow while its tasks keep both cores busy; it waits longer rather than fail on
a slow answer that is not what it tests."""

from __future__ import annotations

from typing import Any

from services.airflow.client import AirflowClient
from services.airflow.http import HttpTransport
from services.airflow.transport import RetryPolicy
from services.settings import Settings

PATIENT_BUDGET_S = 60.0
PATIENT_READ_TIMEOUT_S = 30.0


def patient_client(settings: Settings, **options: Any) -> AirflowClient:
    transport = HttpTransport.from_settings(
        settings,
        read_timeout_s=PATIENT_READ_TIMEOUT_S,
        retry=RetryPolicy(attempts=5, budget_s=PATIENT_BUDGET_S),
    )
    return AirflowClient(transport, **options)
