#!/usr/bin/env bash
# Create or update the project's virtualenv (.venv) from the pinned requirements; idempotent.
#
#   scripts/bootstrap.sh          runtime: the app, the services, the engine and the local Airflow
#   scripts/bootstrap.sh --dev    also tests, lint and benchmarks, plus Debian's chromium for e2e tests
#
# pip runs only when requirements*.txt or constraints.txt changed since the last successful run
# (a hash stamp inside .venv), so a second run takes well under a second.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/.venv"
PYTHON="${PYTHON:-python3}"
CHROMIUM=/usr/bin/chromium

dev=0
for arg in "$@"; do
    case "$arg" in
        --dev) dev=1 ;;
        -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "bootstrap: unknown argument '$arg' (expected --dev)" >&2; exit 2 ;;
    esac
done

cd "$REPO_ROOT"

if [[ ! -x "${VENV}/bin/python" ]]; then
    echo "bootstrap: creating ${VENV}"
    "$PYTHON" -m venv "$VENV"
fi

# One hash over the three files; a --dev stamp also satisfies a runtime-only run (superset).
req_hash="$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -d' ' -f1)"
stamp_runtime="${VENV}/.bootstrap-runtime.sha256"
stamp_dev="${VENV}/.bootstrap-dev.sha256"
if (( dev )); then
    stamps=("$stamp_dev")
else
    stamps=("$stamp_runtime" "$stamp_dev")
fi

up_to_date=0
for stamp in "${stamps[@]}"; do
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$req_hash" ]]; then
        up_to_date=1
    fi
done

if (( up_to_date )); then
    echo "bootstrap: ${VENV} is up to date (requirements unchanged)"
else
    "${VENV}/bin/python" -m pip install --quiet --upgrade pip
    pip_args=(-r requirements.txt -c constraints.txt)
    if (( dev )); then
        pip_args+=(-r requirements-dev.txt)
    fi
    echo "bootstrap: pip install ${pip_args[*]}"
    "${VENV}/bin/python" -m pip install --quiet "${pip_args[@]}"
    if (( dev )); then
        echo "$req_hash" > "$stamp_dev"
    else
        echo "$req_hash" > "$stamp_runtime"
    fi
fi

# Debian packages the tests start for real: chromium (e2e), postgresql (the market-data database and
# DATABASE_URL) and redis-server (REDIS_URL: the shared cache and Celery across app hosts).
if (( dev )); then
    missing=()
    [[ -x "$CHROMIUM" ]] || missing+=(chromium)
    [[ -x "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -1)" ]] || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    if (( ${#missing[@]} )); then
        sudo_cmd=()
        if [[ "$(id -u)" -ne 0 ]]; then
            sudo_cmd=(sudo)
        fi
        echo "bootstrap: installing Debian's ${missing[*]} (for the tests)"
        "${sudo_cmd[@]}" apt-get update
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

echo "bootstrap: done. Start the local Airflow with: .venv/bin/python scripts/local_airflow.py start"
