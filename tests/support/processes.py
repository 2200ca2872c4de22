"""Running the project's own entry points as a user would: `python -m <module>` in a child process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

from services.settings import PROJECT_ROOT

MODULE_TIMEOUT_S = 60


def run_module(module: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m module` from the project root with exactly `env`; its exit code and text output."""
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=MODULE_TIMEOUT_S,
        check=False,
    )
