"""Integration fixtures: a moto server, the MWAA stand-in and a test's AWS environment pointing at both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.aws_moto import ENV_NAME, FAKE_KEY_ID, FAKE_SECRET, REGION
from tests.support.moto_server import moto_server, reset
from tests.support.mwaa_endpoint import EnvironmentSpec, MwaaEndpoint


# One server per test module (starting one takes seconds); aws_env resets it before every test.
@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def mwaa_endpoint() -> Iterator[MwaaEndpoint]:
    endpoint = MwaaEndpoint(EnvironmentSpec(name=ENV_NAME, airflow_version="2.10.3", region=REGION))
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def aws_env(
    moto_url: str, mwaa_endpoint: MwaaEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """This test's AWS environment: endpoints of moto and the MWAA stand-in, fake credentials."""
    reset(moto_url)
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_MWAA": mwaa_endpoint.url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def market_db(postgres_url: str) -> Iterator[str]:
    """An empty market-data database of its own for one test (on the session's PostgreSQL): its URL."""
    from tests.support.market_db import fresh_database

    with fresh_database(postgres_url) as url:
        yield url
