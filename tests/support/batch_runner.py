"""A Batch stand-in that really runs the container: a proxy in front of moto's Batch API.

moto with `batch.use_docker=False` marks a job SUCCEEDED the moment it is submitted and runs
nothing. This proxy (reached with `AWS_ENDPOINT_URL_BATCH`, or a connection's
`service_config.batch.endpoint_url`) forwards every Batch call to moto and, for each job it sees
submitted (`POST /v1/submitjob`), runs the container's entrypoint `python -m backtest_engine` with
the job's container-override environment and the given base environment (moto's S3 endpoint), so
the results land where a real container would write them. Until that process has exited,
DescribeJobs and ListJobs answer as Batch does for a running container: RUNNING, no `stoppedAt`;
then SUCCEEDED, or FAILED with the exit code and the last line of stderr as the reason. Waiters
(BatchOperator) therefore see the job finish only after its results exist.

Limit: ListJobs filtered by `jobStatus` is answered by moto's own status (the JOB_NAME filter,
which the Monitor page uses, is exact).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from services.settings import PROJECT_ROOT
from tests.support.local_http import serve, shut

log = logging.getLogger(__name__)

ENGINE_COMMAND = (sys.executable, "-m", "backtest_engine")
ENGINE_TIMEOUT_S = 120.0
FORWARD_TIMEOUT_S = 30.0
FAILED_CONTAINER_REASON = "Essential container in task exited"
HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


@dataclass
class EngineRun:
    """One submitted job's container, as this stand-in ran it."""

    job_id: str
    job_name: str
    environment: dict[str, str]
    started_at: float | None = None
    stopped_at: float | None = None
    exit_code: int | None = None
    stderr_tail: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def status(self) -> str:
        if self.exit_code is not None:
            return "SUCCEEDED" if self.exit_code == 0 else "FAILED"
        return "RUNNING" if self.started_at is not None else "RUNNABLE"


class BatchRunner:
    """`with BatchRunner(moto_url, base_env) as url:` — the proxy's URL; `runs` holds every job it ran."""

    def __init__(self, moto_url: str, base_env: Mapping[str, str]) -> None:
        self.moto_url = moto_url.rstrip("/")
        self.base_env = dict(base_env)
        self.runs: dict[str, EngineRun] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._session = requests.Session()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        runner = self

        class Handler(_ProxyHandler):
            owner = runner

        self._server = serve(Handler, "batch-runner")
        return self.url

    def stop(self) -> None:
        shut(self._server)
        self._server = None
        for run in list(self.runs.values()):
            run.done.wait(ENGINE_TIMEOUT_S)  # no engine outlives the test

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_all(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(run.done.wait(max(0.0, deadline - time.monotonic())) for run in list(self.runs.values()))

    # ---- the container ------------------------------------------------------------------------------

    def _submitted(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        overrides = (request.get("containerOverrides") or {}).get("environment") or []
        run = EngineRun(
            job_id=str(response["jobId"]),
            job_name=str(response.get("jobName") or request.get("jobName") or ""),
            environment={item["name"]: item["value"] for item in overrides},
        )
        with self._lock:
            self.runs[run.job_id] = run
        threading.Thread(
            target=self._run_engine, args=(run,), name=f"engine-{run.job_id[:8]}", daemon=True
        ).start()

    def _run_engine(self, run: EngineRun) -> None:
        run.started_at = time.time()
        try:
            proc = subprocess.run(
                ENGINE_COMMAND,
                cwd=PROJECT_ROOT,
                env={**self.base_env, **run.environment},
                capture_output=True,
                text=True,
                timeout=ENGINE_TIMEOUT_S,
                check=False,
            )
            run.stderr_tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            code = proc.returncode
        except subprocess.TimeoutExpired:
            run.stderr_tail, code = f"timed out after {ENGINE_TIMEOUT_S:.0f} s", 137
        run.stopped_at = time.time()
        run.exit_code = code
        run.done.set()
        log.info("engine for job %s exited with %s", run.job_id, code)

    # ---- what Batch reports while the container runs -----------------------------------------------

    def _describe(self, raw: dict[str, Any]) -> None:
        run = self.runs.get(str(raw.get("jobId")))
        if run is None:
            return
        raw["status"] = run.status
        if run.started_at is not None:
            raw["startedAt"] = int(run.started_at * 1000)
        if run.exit_code is None:
            raw.pop("stoppedAt", None)
            raw.pop("statusReason", None)
            return
        raw["stoppedAt"] = int((run.stopped_at or time.time()) * 1000)
        container = raw.setdefault("container", {})
        container["exitCode"] = run.exit_code
        if run.exit_code != 0:
            raw["statusReason"] = FAILED_CONTAINER_REASON
            last = run.stderr_tail.splitlines()[-1] if run.stderr_tail else "no output"
            container["reason"] = f"exit code {run.exit_code}: {last}"

    def rewrite(self, operation: str, request: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """The moto answer as Batch would give it while our containers run."""
        if operation == "submitjob" and "jobId" in body:
            self._submitted(request, body)
        elif operation == "describejobs":
            for raw in body.get("jobs") or ():
                self._describe(raw)
        elif operation == "listjobs":
            for summary in body.get("jobSummaryList") or ():
                self._describe(summary)
        return body

    def forward(self, method: str, path: str, headers: Mapping[str, str], data: bytes) -> requests.Response:
        kept = {name: value for name, value in headers.items() if name.lower() not in HOP_HEADERS}
        return self._session.request(
            method, self.moto_url + path, headers=kept, data=data, timeout=FORWARD_TIMEOUT_S
        )


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: BatchRunner
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        upstream = self.owner.forward(self.command, self.path, dict(self.headers), data)
        content = upstream.content
        operation = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
        if upstream.status_code == 200 and operation in ("submitjob", "describejobs", "listjobs"):
            try:
                request = json.loads(data or b"{}")
                body = self.owner.rewrite(operation, request, json.loads(content or b"{}"))
                content = json.dumps(body).encode()
            except ValueError:
                log.warning("unreadable Batch %s: forwarded as is", operation)
        self.send_response(upstream.status_code)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_HEADERS | {"content-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = _proxy
