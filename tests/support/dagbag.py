"""Load a dags folder with a real Airflow DagBag in a fresh process and return its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services.settings import PROJECT_ROOT

PROBE = PROJECT_ROOT / "scripts" / "dagbag_probe.py"
MARKER = "DAGBAG_REPORT "


def load_dagbag(folder: Path, executor: str, home: Path, target: Path | None = None) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
        "BACKTEST_EXECUTOR": executor,
        "PYTHONPATH": str(folder),
    }
    args = [sys.executable, str(PROBE), str(folder)] + ([str(target)] if target else [])
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    return json.loads(lines[-1][len(MARKER) :])
