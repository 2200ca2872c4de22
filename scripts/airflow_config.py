"""What the local Airflow reads from disk and its environment: airflow.env, passwords, the dags folder."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from services.framework_bundle import framework_files
from services.settings import PROJECT_ROOT, Settings

VENV_BIN = Path(sys.executable).parent  # not resolved: a venv's python is a symlink
ENV_FILE = "airflow.env"  # `. <home>/airflow.env`, then `airflow dags list` etc. talk to this instance
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
REFERENCE_DAG = PROJECT_ROOT / "dags" / "framework_backtest_simple_example_dag.py"
API_MAX_PAGE_LIMIT = 1000
# One API worker: a second one costs ~200 MB and, measured on 2 cores, made REST calls slower.
API_WORKERS = 1
# Each parse of a DAG file costs ~0.2 s CPU here: every 2 s this is ~10 % of a core per file.
# 10 s bounds the delay of an edit that lands while its file is being parsed (mtime not newer).
REPARSE_INTERVAL_S = 10


class LocalAirflowError(Exception):
    """The local Airflow could not be started or did not become healthy; the message says why."""


def airflow_env(settings: Settings, log_ports: tuple[int, int]) -> dict[str, str]:
    """What every Airflow process gets on top of ours: paths, executor, auth, fast DAG pickup, limits."""
    home, dags, url = settings.airflow_home, settings.local_dags_folder, urlsplit(settings.airflow_url)
    python_path = [str(dags), str(PROJECT_ROOT)]  # the deployed framework copy wins, as on MWAA
    return {
        "AIRFLOW_HOME": str(home),
        "PATH": os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),  # standalone runs `airflow`
        "PYTHONPATH": os.pathsep.join(python_path + [p for p in [os.environ.get("PYTHONPATH")] if p]),
        "BACKTEST_EXECUTOR": "local",
        "AIRFLOW_VAR_BACKTEST_RESULTS_URI": str(settings.results_root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager."
        "SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_username}:admin",
        # Default 30 s: a re-parse within 30 s of the last write does not store the new version,
        # though the tags in GET /dags/{id} do change. 0: every changed DAG is stored at once.
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        # Tasks reach the execution API through it (default http://localhost:8080).
        "AIRFLOW__API__BASE_URL": f"{url.scheme}://{url.hostname}:{settings.airflow_port}",
        "AIRFLOW__API__WORKERS": str(API_WORKERS),
        # The monitor lists a big sweep's mapped task instances in a few large pages, not dozens.
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": str(API_MAX_PAGE_LIMIT),
        # New files are listed within ~2 s (default 300 s). A file whose mtime is newer than its
        # last parse is re-parsed at once; every file is re-parsed every REPARSE_INTERVAL_S anyway.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(REPARSE_INTERVAL_S),
        # Scheduler and triggerer serve live task logs on all interfaces (no host option); fixed
        # defaults 8793/8794 collide when several local Airflows run side by side.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
    }


def write_env_file(settings: Settings, env: Mapping[str, str]) -> None:
    """Write `<home>/airflow.env`: shell exports of what the running instance was started with."""
    exports = [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    write_if_changed(settings.airflow_home / ENV_FILE, ("\n".join(exports) + "\n").encode())


def sync_dags_folder(settings: Settings) -> list[Path]:
    """Copy the framework (as the app deploys it) and the reference DAG; return the files that changed."""
    dags = settings.local_dags_folder
    # framework_files(): the package's *.py plus its `.airflowignore` (`*`), keyed relative to dags/.
    files = {dags / key: data for key, data in framework_files().items()}
    if REFERENCE_DAG.is_file():
        files[dags / REFERENCE_DAG.name] = REFERENCE_DAG.read_bytes()  # last: after its framework
    return [path for path, data in files.items() if write_if_changed(path, data)]


def write_if_changed(path: Path, content: bytes, mode: int = 0o644) -> bool:
    """Write atomically (temp file + os.replace) unless the file already holds `content`."""
    if path.is_file() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot-name without .py: the DAG processor never parses a half-written temp file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def prepare_home(settings: Settings) -> None:
    """Create the folders; write the password file SimpleAuthManager reads on every login."""
    if any(ch in settings.airflow_username for ch in ":, ") or not settings.airflow_username:
        raise LocalAirflowError("AIRFLOW_USERNAME: must be non-empty without ':', ',' or spaces")
    for folder in (settings.airflow_home / "logs", settings.local_dags_folder, settings.results_root):
        folder.mkdir(parents=True, exist_ok=True)
    passwords = {settings.airflow_username: settings.airflow_password.get_secret_value()}
    write_if_changed(settings.airflow_home / PASSWORDS_FILE, (json.dumps(passwords) + "\n").encode(), 0o600)
