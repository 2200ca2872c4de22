"""Start, stop and check the local Apache Airflow 3 (`airflow standalone`: SQLite, LocalExecutor)."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# check_health, get_token, sync_dags_folder and LocalAirflowError are re-exported (__all__): tests,
# bench and the e2e stacks use them as local_airflow.<name>.
from scripts.airflow_config import (
    VENV_BIN,
    LocalAirflowError,
    airflow_env,
    prepare_home,
    sync_dags_folder,
    write_env_file,
    write_if_changed,
)
from scripts.airflow_health import HTTP_TIMEOUT_S, check_health, get_token
from services.settings import Settings, load_settings_or_exit

__all__ = [
    "PID_FILE",
    "LocalAirflowError",
    "StackStatus",
    "airflow_env",
    "check_health",
    "get_token",
    "log_tail",
    "main",
    "running_pid",
    "start",
    "status",
    "stop",
    "sync_dags_folder",
]

log = logging.getLogger("local_airflow")

PID_FILE = "standalone.pid"
LOG_FILE = "standalone.log"
LOG_ROTATE_BYTES = 20 * 1024 * 1024  # at start, a bigger log becomes standalone.log.1
LOCK_FILE = "start.lock"
TASK_NICENESS = 10
START_TIMEOUT_S = 180.0  # measured up to ~100 s at load 7 on 2 cores (other stacks, tests)
STOP_TIMEOUT_S = 30.0  # SIGTERM, then SIGKILL
KILL_WAIT_S = 5.0
POLL_S = 0.5
LOG_TAIL_LINES = 40


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

    def describe(self) -> str:
        if self.healthy:
            return f"Airflow healthy at {self.url} (pid {self.pid})"
        if self.running:
            return f"Airflow running (pid {self.pid}) but not healthy at {self.url}: {self.detail}"
        return f"Airflow not running ({self.url}){': ' + self.detail if self.detail else ''}"


def _free_port() -> int:
    """A TCP port free right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


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


def log_tail(settings: Settings) -> str:
    """The last lines of the standalone log (for error messages)."""
    path = settings.airflow_home / "logs" / LOG_FILE
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else ["(no log yet)"]
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _wait_healthy(settings: Settings, pid: int, since: datetime | None, timeout: float) -> None:
    """Poll until healthy; raise LocalAirflowError with the log tail if the process dies or time runs out."""
    deadline, detail = time.monotonic() + timeout, "not checked"
    while time.monotonic() < deadline:
        stat = _proc_stat(pid)  # the process we just launched: alive is enough (no pid-reuse check)
        if stat is None or stat[0] == "Z":
            raise LocalAirflowError(f"airflow standalone exited while starting; log:\n{log_tail(settings)}")
        healthy, detail = check_health(settings, since)
        if healthy:
            _warm_up_execution_api(settings, max(deadline - time.monotonic(), HTTP_TIMEOUT_S))
            return
        time.sleep(POLL_S)
    raise LocalAirflowError(f"not healthy after {timeout:.0f} s ({detail}); log tail:\n{log_tail(settings)}")


def _warm_up_execution_api(settings: Settings, timeout: float) -> None:
    """Make the API server build its execution API now rather than on the first task's first call.

    Airflow 3.3's execution API (a Cadwyn app under /execution) generates its versioned routes on
    its first request, on the event loop: ~10 s on 2 cores during which the whole API server (the
    public API too) answers nothing and that task's first call times out and is retried.
    """
    try:
        requests.get(f"{settings.airflow_url}/execution/health", timeout=timeout).raise_for_status()
    except requests.RequestException as exc:
        raise LocalAirflowError(f"execution API did not answer ({exc}); log:\n{log_tail(settings)}") from exc


def start(
    settings: Settings, timeout: float = START_TIMEOUT_S, extra_env: Mapping[str, str] | None = None
) -> StackStatus:
    """Start `airflow standalone` detached (idempotent) and wait until the API is healthy.

    `extra_env` goes to every Airflow process on top of `airflow_env` (it wins on a clash), e.g. the
    batch executor and AWS endpoints of a test stack; it is not applied to an instance already running.
    """
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    with (settings.airflow_home / LOCK_FILE).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one start per home at a time: the next one finds it running
        return _start_locked(settings, timeout, extra_env or {})


def _start_locked(settings: Settings, timeout: float, extra_env: Mapping[str, str]) -> StackStatus:
    prepare_home(settings)
    changed = sync_dags_folder(settings)
    if changed:
        log.info("dags folder: updated %s", ", ".join(p.name for p in changed))
    pid = running_pid(settings)
    if pid is not None:
        _wait_healthy(settings, pid, None, timeout)  # may still be starting (an interrupted start)
        log.info("already running and healthy (pid %s) at %s", pid, settings.airflow_url)
        return status(settings)
    if _port_in_use(settings.airflow_port):
        raise LocalAirflowError(f"port {settings.airflow_port} is in use by another process than ours")
    since = datetime.now().astimezone()
    pid = _launch(settings, since, extra_env)
    try:
        _wait_healthy(settings, pid, since, timeout)
    except LocalAirflowError:
        stop(settings)
        raise
    _deprioritize_tasks(pid)
    return status(settings)


def _deprioritize_tasks(pid: int) -> None:
    """Lower the scheduler's priority: the task processes it forks inherit it, so on 2 cores a
    running sweep leaves the API server (and the app's monitoring) responsive."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        try:
            if any(part in ("scheduler", "triggerer") for part in child.cmdline()[1:3]):
                for process in (child, *child.children(recursive=True)):
                    process.nice(TASK_NICENESS)
        except psutil.Error:
            continue


def _launch(settings: Settings, since: datetime, extra_env: Mapping[str, str] | None = None) -> int:
    """Spawn `airflow standalone` in a new session (it survives our exit), output to the log; its pid.

    standalone rather than the four components: it migrates the DB and supervises scheduler,
    dag-processor, api-server and triggerer as one process group, so one pid stops them all.
    """
    env = airflow_env(settings, log_ports=(_free_port(), _free_port())) | dict(extra_env or {})
    write_env_file(settings, env)
    inherited = {k: v for k, v in os.environ.items() if k != "AIRFLOW_CONFIG"}  # ours: <home>/airflow.cfg
    log_path = settings.airflow_home / "logs" / LOG_FILE
    if log_path.is_file() and log_path.stat().st_size > LOG_ROTATE_BYTES:
        log_path.replace(log_path.with_name(f"{LOG_FILE}.1"))
    with log_path.open("ab") as log_file:
        log_file.write(f"\n===== start {since.isoformat()} =====\n".encode())
        log_file.flush()
        process = subprocess.Popen(
            [str(VENV_BIN / "airflow"), "standalone"],
            cwd=settings.airflow_home,
            env=inherited | env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    write_if_changed(settings.airflow_home / PID_FILE, f"{process.pid}\n".encode())
    log.info("started airflow standalone (pid %s), log %s", process.pid, log_path)
    return process.pid


def stop(settings: Settings, timeout: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM the whole process group, SIGKILL what is left after `timeout`; False if not running.

    Not SIGINT to the standalone alone: its own shutdown joins threads that wait for EOF on pipes
    that grandchildren (executor workers, log servers) still hold, and stops draining their output.
    """
    pid = running_pid(settings)
    if pid is None:
        return False
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, KILL_WAIT_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # start_new_session: the group id is the standalone's pid
        deadline = time.monotonic() + wait_s
        while _group_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(POLL_S)
        if not _group_alive(pid):
            break
        log.warning("group %s still running %.0f s after %s", pid, wait_s, sig.name)
    _reap(pid)
    (settings.airflow_home / PID_FILE).unlink(missing_ok=True)
    log.info("stopped (pid %s)", pid)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the standalone is our child (tests start it in-process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status(settings: Settings) -> StackStatus:
    """Whether our standalone runs and the API is healthy."""
    pid = running_pid(settings)
    healthy, detail = check_health(settings)
    if pid is None:
        detail, healthy = ("another Airflow answers there, healthy" if healthy else ""), False
    return StackStatus(url=settings.airflow_url, pid=pid, healthy=healthy, detail=detail)


def main(argv: list[str] | None = None) -> int:
    """CLI: start | stop | status. Exit 0 ok, 1 failed or unhealthy, 2 bad settings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=("start", "stop", "status"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings_or_exit()
    try:
        if args.command == "stop":
            print("stopped" if stop(settings) else "not running")
            return 0
        began = time.monotonic()
        result = start(settings) if args.command == "start" else status(settings)
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    if args.command == "start":
        elapsed = time.monotonic() - began
        print(f"ready after {elapsed:.1f} s: UI {result.url}, user {settings.airflow_username}")
        print(f"dags folder {settings.local_dags_folder}, home {settings.airflow_home}")
    return 0 if result.healthy else 1


if __name__ == "__main__":
    sys.exit(main())
