"""`python -m services.connections`: every check of the mode, one line each; exit 1 on a failure."""

from __future__ import annotations

import sys

from services.bootstrap import build_services
from services.errors import BacktestError
from services.models import CheckResult
from services.redaction import redact
from services.settings import SettingsError, load_settings


def main() -> int:
    """Print one line per check (resource, ok/FAIL, the fix) and exit 1 if any failed."""
    try:
        settings = load_settings()
        checks = build_services(settings).connections.check_all()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except BacktestError as exc:  # the checks could not even start: one line, no traceback
        print(redact(f"FAIL {exc.message}" + (f" -> fix: {exc.fix}" if exc.fix else "")))
        return 1
    for check in checks:
        print(check_line(check))
    return 0 if all(check.ok for check in checks) else 1


def check_line(check: CheckResult) -> str:
    """`FAIL Airflow API reachable [http://host:8080]: why -> fix: what to do`, secrets scrubbed."""
    status = "ok  " if check.ok else "FAIL"
    line = f"{status} {check.label}" + (f" [{check.resource}]" if check.resource else "")
    if check.detail:
        line += f": {check.detail}"
    if not check.ok and check.fix:
        line += f" -> fix: {check.fix}"
    return redact(line).replace("\n", " ")
