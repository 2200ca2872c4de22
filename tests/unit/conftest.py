"""Unit fixtures: `fake`, an in-memory Airflow per REST API version; `mwaa`, a stubbed MWAA client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.support.airflow_api_fake import FakeAirflowApi
from tests.support.mwaa_stubs import REGION


@pytest.fixture(params=["v2", "v1"])
def fake(request: pytest.FixtureRequest) -> FakeAirflowApi:
    return FakeAirflowApi(version=request.param)


@pytest.fixture
def mwaa() -> Iterator[tuple[Any, Stubber]]:
    """A stubbed MWAA client (the InvokeRestApi tests); every answer a test queued must be asked for."""
    client = boto3.client(
        "mwaa",
        region_name=REGION,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
