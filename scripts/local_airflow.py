"""Start, stop and check the local Apache Airflow 3 (`airflow standalone`: SQLite, LocalExecutor)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from services.settings import PROJECT_ROOT, Settings, SettingsError, load_settings  # noqa: E402

log = logging.getLogger("local_airflow")

VENV_BIN = Path(sys.executable).parent  # not resolved: a venv's python is a symlink
PID_FILE = "standalone.pid"
LOG_FILE = "standalone.log"
ENV_FILE = "airflow.env"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
REFERENCE_DAG = PROJECT_ROOT / "dags" / "framework_backtest_simple_example_dag.py"
FRAMEWORK_DIR = PROJECT_ROOT / "airflow_backtest_framework"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
POLL_S = 0.5
HTTP_TIMEOUT_S = 5.0
LOG_TAIL_LINES = 40
LOG_TAIL_BYTES = 64 * 1024
# Components that must report "healthy"; the triggerer only when Airflow reports one.
REQUIRED_COMPONENTS = ("metadatabase", "scheduler", "dag_processor")
OPTIONAL_COMPONENTS = ("triggerer",)


class LocalAirflowError(Exception):
    """The local Airflow could not be started or did not become healthy; the message says why."""


@dataclass(frozen=True)
class StackStatus:
    """What `status` found: the standalone process (if ours and alive) and the API's health."""

    url: str
    pid: int | None
    healthy: bool
    detail: str

    @property
    def running(self) -> bool:
        return self.pid is not None


def airflow_env(settings: Settings) -> dict[str, str]:
    """The environment of every Airflow process: paths, executor, auth, fast DAG pickup, parallelism."""
    home, dags = settings.airflow_home, settings.local_dags_folder
    python_path = [str(dags), str(PROJECT_ROOT)]  # the deployed framework copy wins, as on MWAA
    env = {
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
        # An edited DAG is written to the DB at most this often (default 30 s).
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": settings.airflow_url,  # tasks reach the execution API through it
        "AIRFLOW__API__WORKERS": "1",
        # New files within ~2 s (default 300 s), edited files within ~2 s (default 30 s).
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "2",
    }
    inherited = {k: v for k, v in os.environ.items() if k != "AIRFLOW_CONFIG"}
    return inherited | env


def sync_dags_folder(settings: Settings) -> list[Path]:
    """Copy the reference DAG and the framework's *.py into the dags folder; return what changed."""
    dags = settings.local_dags_folder
    copies = {src: dags / FRAMEWORK_DIR.name / src.name for src in sorted(FRAMEWORK_DIR.glob("*.py"))}
    if REFERENCE_DAG.is_file():
        copies[REFERENCE_DAG] = dags / REFERENCE_DAG.name
    changed = [dst for src, dst in copies.items() if _write_if_changed(dst, src.read_bytes())]
    # `*` keeps the DAG processor out of the package (`.*` would not); its modules are no DAGs.
    if _write_if_changed(dags / FRAMEWORK_DIR.name / ".airflowignore", b"*\n"):
        changed.append(dags / FRAMEWORK_DIR.name / ".airflowignore")
    return changed


def _write_if_changed(path: Path, content: bytes) -> bool:
    """Write atomically (temp file + os.replace) unless the file already holds `content`."""
    if path.is_file() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot-name without .py: the DAG processor never parses a half-written temp file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def _prepare_home(settings: Settings) -> None:
    """Create the folders; write the deterministic password file and a sourceable env file."""
    if any(ch in settings.airflow_username for ch in ":, ") or not settings.airflow_username:
        raise LocalAirflowError("AIRFLOW_USERNAME: must be non-empty without ':', ',' or spaces")
    for folder in (settings.airflow_home / "logs", settings.local_dags_folder, settings.results_root):
        folder.mkdir(parents=True, exist_ok=True)
    passwords = {settings.airflow_username: settings.airflow_password.get_secret_value()}
    _write_if_changed(settings.airflow_home / PASSWORDS_FILE, (json.dumps(passwords) + "\n").encode())
    os.chmod(settings.airflow_home / PASSWORDS_FILE, 0o600)
    exports = [f"export {k}={shlex.quote(v)}" for k, v in airflow_env(settings).items() if k.startswith("AIR")]
    header = "# `set -a; . <this file>` then .venv/bin/airflow ... talks to this instance (written by start)\n"
    _write_if_changed(settings.airflow_home / ENV_FILE, (header + "\n".join(exports) + "\n").encode())


def get_token(settings: Settings, password: str | None = None) -> str:
    """`POST /auth/token` with the configured (or the given) credentials; return the JWT."""
    body = {"username": settings.airflow_username, "password": password or settings.airflow_password.get_secret_value()}
    response = requests.post(f"{settings.airflow_url}/auth/token", json=body, timeout=HTTP_TIMEOUT_S)
    response.raise_for_status()
    return response.json()["access_token"]


def check_health(settings: Settings, since: datetime | None = None) -> tuple[bool, str]:
    """`GET /api/v2/monitor/health` plus a token; heartbeats must be newer than `since` if given."""
    try:
        health = requests.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=HTTP_TIMEOUT_S).json()
    except (requests.RequestException, ValueError) as exc:
        return False, f"API not answering ({type(exc).__name__})"
    present = [c for c in OPTIONAL_COMPONENTS if (health.get(c) or {}).get("status") is not None]
    for component in (*REQUIRED_COMPONENTS, *present):
        info = health.get(component) or {}
        if info.get("status") != "healthy":
            return False, f"{component} is {info.get('status') or 'missing'}"
        beat = info.get(f"latest_{component}_heartbeat")
        if since and beat and datetime.fromisoformat(beat) < since:
            return False, f"{component} heartbeat predates this start"  # a job of the previous run
    try:
        get_token(settings)
    except (requests.RequestException, KeyError, ValueError) as exc:
        return False, f"no token for {settings.airflow_username!r} ({exc})"
    return True, "healthy"


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a live process from /proc, None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])


def _group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is still in process group `pgid`."""
    for entry in Path("/proc").iterdir():
        stat = _proc_stat(int(entry.name)) if entry.name.isdigit() else None
        if stat and stat[1] == pgid and stat[0] != "Z":
            return True
    return False


def _is_our_standalone(pid: int, settings: Settings) -> bool:
    """The pid is a live `airflow standalone` of this AIRFLOW_HOME (guards against pid reuse)."""
    stat = _proc_stat(pid)
    if stat is None or stat[0] == "Z":
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"standalone" in cmdline and f"AIRFLOW_HOME={settings.airflow_home}".encode() in environ


def running_pid(settings: Settings) -> int | None:
    """The pid from the pid file if that process is ours and alive; a stale pid file is removed."""
    pid_file = settings.airflow_home / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and _is_our_standalone(pid, settings):
        return pid
    if pid_file.exists():
        log.info("removing stale pid file %s (pid %s is gone or not ours)", pid_file, pid)
        pid_file.unlink(missing_ok=True)
    return None


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def log_tail(settings: Settings, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the standalone log (for error messages)."""
    path = settings.airflow_home / "logs" / LOG_FILE
    if not path.is_file():
        return "(no log yet)"
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return "\n".join(file.read().decode(errors="replace").splitlines()[-lines:])


def _wait_healthy(settings: Settings, pid: int, since: datetime | None, timeout: float) -> None:
    """Poll until healthy; raise LocalAirflowError with the log tail if the process dies or time runs out."""
    deadline, detail = time.monotonic() + timeout, "not checked"
    while time.monotonic() < deadline:
        if not _is_our_standalone(pid, settings):
            raise LocalAirflowError(f"airflow standalone exited during start; log tail:\n{log_tail(settings)}")
        healthy, detail = check_health(settings, since)
        if healthy:
            return
        time.sleep(POLL_S)
    raise LocalAirflowError(f"not healthy after {timeout:.0f} s ({detail}); log tail:\n{log_tail(settings)}")


def start(settings: Settings, timeout: float = START_TIMEOUT_S) -> StackStatus:
    """Start `airflow standalone` detached (idempotent) and wait until the API is healthy."""
    _prepare_home(settings)
    changed = sync_dags_folder(settings)
    if changed:
        log.info("dags folder: updated %s", ", ".join(p.name for p in changed))
    pid = running_pid(settings)
    if pid is not None:
        _wait_healthy(settings, pid, None, timeout)  # may still be starting (a concurrent start)
        log.info("already running and healthy (pid %s) at %s", pid, settings.airflow_url)
        return status(settings)
    if _port_in_use(settings.airflow_port):
        raise LocalAirflowError(f"port {settings.airflow_port} is in use by another process than ours")
    since = datetime.now().astimezone()
    with (settings.airflow_home / "logs" / LOG_FILE).open("ab") as log_file:
        log_file.write(f"\n===== start {since.isoformat()} =====\n".encode())
        log_file.flush()
        process = subprocess.Popen(
            [str(VENV_BIN / "airflow"), "standalone"],
            cwd=settings.airflow_home, env=airflow_env(settings), stdin=subprocess.DEVNULL,
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,  # survives our exit
        )
    _write_if_changed(settings.airflow_home / PID_FILE, f"{process.pid}\n".encode())
    log.info("started airflow standalone (pid %s); log: %s", process.pid, settings.airflow_home / "logs" / LOG_FILE)
    try:
        _wait_healthy(settings, process.pid, since, timeout)
    except LocalAirflowError:
        stop(settings)
        raise
    return status(settings)


def stop(settings: Settings, timeout: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM the whole process group, SIGKILL what is left after `timeout`; False if not running."""
    pid = running_pid(settings)
    if pid is None:
        return False
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, STOP_TIMEOUT_S)):
        try:
            os.killpg(pid, sig)  # start_new_session: the group id is the standalone's pid
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while _group_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(POLL_S)
        if not _group_alive(pid):
            break
        log.warning("still running after %.0f s: sending SIGKILL to group %s", wait_s, pid)
    _reap(pid)
    (settings.airflow_home / PID_FILE).unlink(missing_ok=True)
    log.info("stopped (pid %s)", pid)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the standalone is our child (tests start it in-process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status(settings: Settings) -> StackStatus:
    """Whether our standalone runs and the API is healthy."""
    pid = running_pid(settings)
    healthy, detail = check_health(settings)
    if pid is None:
        detail = "not running" + (" (but another Airflow answers healthy there)" if healthy else "")
        healthy = False
    return StackStatus(url=settings.airflow_url, pid=pid, healthy=healthy, detail=detail)


def main(argv: list[str] | None = None) -> int:
    """CLI: start | stop | status. Exit 0 ok, 1 failed or unhealthy, 2 bad settings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=("start", "stop", "status"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        if args.command == "stop":
            print("stopped" if stop(settings) else "not running")
            return 0
        began = time.monotonic()
        result = start(settings) if args.command == "start" else status(settings)
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = "healthy" if result.healthy else ("running, " if result.running else "") + result.detail
    print(f"Airflow {state} at {result.url} (pid {result.pid})")
    if args.command == "start":
        print(f"ready in {time.monotonic() - began:.1f} s; UI {result.url} user {settings.airflow_username!r}")
        print(f"dags folder {settings.local_dags_folder}; home {settings.airflow_home}")
    return 0 if result.healthy else 1


if __name__ == "__main__":
    sys.exit(main())
