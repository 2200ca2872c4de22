#!/usr/bin/env bash
# Install everything the tests need (venv, dev requirements, Debian chromium) and run the whole suite:
# unit, integration (real local Airflow started by the tests, moto) and end-to-end (headless Chromium).
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/unit -q`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh --dev
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache  # the layer contracts of .importlinter
exec .venv/bin/python -m pytest --timeout=900 "$@"
