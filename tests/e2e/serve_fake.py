"""Test-only entry: the real app over FakeServices (no Airflow), configured like `python app.py`."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from app import create_app  # noqa: E402
from services.settings import SettingsError, load_settings  # noqa: E402
from tests.fakes import FakeServices  # noqa: E402

STEP_DELAY_ENV = "FAKE_DEPLOY_STEP_DELAY_S"
RUN_SECONDS_ENV = "FAKE_RUN_SECONDS"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    services = FakeServices.create(
        settings.app_data_dir / "fake", settings, step_delay_s=float(os.environ.get(STEP_DELAY_ENV, "0.4"))
    )
    services.runs.run_seconds = float(os.environ.get(RUN_SECONDS_ENV, "90"))
    app = create_app(settings, services)
    logging.getLogger("serve_fake").info("fake services on http://%s:%s/", settings.host, settings.port)
    app.run(host=settings.host, port=settings.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
