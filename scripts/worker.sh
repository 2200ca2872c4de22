#!/usr/bin/env bash
# The Celery worker that runs the app's background callbacks (deployments) when REDIS_URL is set.
# It reads the app's settings (.env and the environment, see .env.example), so start it with the same
# ones as the app; run one or more per deployment, next to the app or on hosts of their own.
# Extra arguments go to `celery worker` (e.g. --concurrency 4; CELERY_CONCURRENCY is the default).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/python - <<'PY'
import sys

from services.settings import load_settings_or_exit

settings = load_settings_or_exit()
if settings.redis_url is None:
    sys.exit("REDIS_URL is not set: without it the app runs background callbacks itself, no worker is needed")
print(f"Celery worker on {settings.redis_url_shown} (concurrency {settings.celery_concurrency})")
PY
exec .venv/bin/celery -A app:celery_app worker --loglevel=INFO --hostname "backtest@%h" "$@"
