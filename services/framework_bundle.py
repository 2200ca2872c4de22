"""The framework files deployed next to the DAGs, exactly as in an MWAA dags folder."""

from __future__ import annotations

from pathlib import Path

import airflow_backtest_framework

PACKAGE_DIR = Path(airflow_backtest_framework.__file__).resolve().parent
PACKAGE_NAME = PACKAGE_DIR.name
# `.airflowignore` holding `*` keeps the DAG processor from parsing the framework's modules as DAGs.
IGNORE_FILE = ".airflowignore"


def framework_files() -> dict[str, bytes]:
    """{key relative to the dags folder: content} for every file of the framework package."""
    files = {f"{PACKAGE_NAME}/{path.name}": path.read_bytes() for path in sorted(PACKAGE_DIR.glob("*.py"))}
    files[f"{PACKAGE_NAME}/{IGNORE_FILE}"] = (PACKAGE_DIR / IGNORE_FILE).read_bytes()
    return files


def write_framework(folder: Path) -> None:
    """Copy the framework into a dags folder (for tests and tools; the app deploys through a store)."""
    for key, data in framework_files().items():
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
