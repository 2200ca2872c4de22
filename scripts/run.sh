#!/usr/bin/env bash
# Install what is needed, start the local Airflow (embedded default) and serve the app.
# Settings come from .env and the environment (see .env.example); Ctrl-C stops the app,
# `.venv/bin/python scripts/local_airflow.py stop` stops Airflow.
# With REDIS_URL set, a Celery worker (scripts/worker.sh) runs next to the app and stops with it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh
.venv/bin/python scripts/local_airflow.py start
if .venv/bin/python -c 'from services.settings import load_settings_or_exit as s; raise SystemExit(s().redis_url is None)'; then
    ./scripts/worker.sh &
    worker=$!
    trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT
    .venv/bin/python app.py
else
    exec .venv/bin/python app.py
fi
