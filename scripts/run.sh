#!/usr/bin/env bash
# Install what is needed, start the local Airflow (embedded default) and serve the app.
# Settings come from .env and the environment (see .env.example); Ctrl-C stops the app,
# `.venv/bin/python scripts/local_airflow.py stop` stops Airflow.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh
.venv/bin/python scripts/local_airflow.py start
exec .venv/bin/python app.py
