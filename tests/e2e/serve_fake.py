"""Test-only entry: the real app over FakeServices (no Airflow), configured like `python app.py`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from app import main  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.fakes import FakeServices  # noqa: E402

STEP_DELAY_ENV = "FAKE_DEPLOY_STEP_DELAY_S"
RUN_SECONDS_ENV = "FAKE_RUN_SECONDS"


def fake_services(settings: Settings) -> FakeServices:
    """Fakes in the app's data folder, with the deploy step delay and run length the test asked for."""
    services = FakeServices.create(
        settings.app_data_dir / "fake", settings, step_delay_s=float(os.environ.get(STEP_DELAY_ENV, "0.4"))
    )
    services.runs.run_seconds = float(os.environ.get(RUN_SECONDS_ENV, "90"))
    return services


if __name__ == "__main__":
    sys.exit(main(make_services=fake_services))
