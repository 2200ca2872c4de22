"""A proxy's HTML or plain text where AWS speaks XML/JSON is mapped like any other AWS error: no traceback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from services.airflow.mwaa import MwaaTransport, get_mwaa_environment
from services.airflow.transport import ApiRequest, RetryPolicy
from services.aws.clients import client_config
from services.aws.errors import aws_errors
from services.connections.cli import main
from services.errors import BacktestError, Fault

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
ENVOY_502 = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
ACCOUNT = "123456789012"
STS_IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    f"<Arn>arn:aws:iam::{ACCOUNT}:user/tester</Arn><UserId>AIDAEXAMPLE</UserId><Account>{ACCOUNT}</Account>"
    "</GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
    "</GetCallerIdentityResponse>"
)
BODIES = {"html": ("text/html", NGINX_502), "text": ("text/plain", ENVOY_502)}


def proxy_server(status: int, content_type: str, body: str, sts_ok: bool) -> ThreadingHTTPServer:
    """A loopback 'proxy' answering every AWS call with `body` (and STS properly when `sts_ok`)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self) -> None:
            request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code, kind, data = status, content_type, body
            if sts_ok and b"Action=GetCallerIdentity" in request:
                code, kind, data = 200, "text/xml", STS_IDENTITY
            payload = data.encode() if self.command != "HEAD" else b""
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def proxy() -> Iterator[Callable[..., str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(kind: str, status: int = 502, sts_ok: bool = False) -> str:
        content_type, body = BODIES[kind]
        servers.append(proxy_server(status, content_type, body, sts_ok))
        return f"http://127.0.0.1:{servers[-1].server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def client(service: str, url: str) -> Any:
    config = client_config().merge(Config(inject_host_prefix=False))
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="dummy-secret-key",
        config=config,
    )


CALLS = {
    "sts": lambda c: c.get_caller_identity(),
    "s3": lambda c: c.get_bucket_versioning(Bucket="dags"),
    "batch": lambda c: c.describe_job_queues(jobQueues=["q"]),
    "mwaa": lambda c: c.get_environment(Name="env"),
}


@pytest.mark.parametrize("kind", sorted(BODIES))
@pytest.mark.parametrize("service", sorted(CALLS))
def test_non_aws_error_bodies_are_mapped(proxy: Callable[..., str], service: str, kind: str) -> None:
    url = proxy(kind)
    with pytest.raises(BacktestError) as info, aws_errors(f"{service} call", service=service):
        CALLS[service](client(service, url))
    assert info.value.fault in (Fault.GATEWAY, Fault.SERVER)
    assert "retry" in info.value.fix and "dummy-secret-key" not in info.value.message


def test_plain_text_where_sts_speaks_xml_names_the_proxy(proxy: Callable[..., str]) -> None:
    url = proxy("text", status=200)
    with pytest.raises(BacktestError) as info, aws_errors("STS GetCallerIdentity", service="sts"):
        client("sts", url).get_caller_identity()
    assert "not from AWS" in info.value.message and "upstream connect error" in info.value.message
    assert info.value.fault is Fault.GATEWAY and "HTTPS_PROXY" in info.value.fix


def test_a_login_page_answered_with_200_is_not_an_environment(proxy: Callable[..., str]) -> None:
    with pytest.raises(BacktestError) as info:
        get_mwaa_environment(client("mwaa", proxy("html", status=200)), "env")
    assert info.value.fault is Fault.GATEWAY and "not from AWS" in info.value.message


def test_mwaa_transport_maps_a_proxy_page(proxy: Callable[..., str]) -> None:
    for kind, status in (("text", 200), ("html", 502)):
        transport = MwaaTransport(
            client("mwaa", proxy(kind, status=status)), "env", retry=RetryPolicy(attempts=1)
        )
        with pytest.raises(BacktestError) as info:
            transport(ApiRequest("GET", "/version"))
        assert info.value.fault in (Fault.GATEWAY, Fault.SERVER), kind


# (body, status, whether STS itself answers): a proxy's error page, its plain text, and the same behind a
# working STS, so that every other check meets it.
CLI_CASES = {
    "html-502": ("html", 502, False),
    "text-502": ("text", 502, False),
    "sts-answers": ("text", 502, True),
}


@pytest.mark.parametrize(("kind", "status", "sts_ok"), list(CLI_CASES.values()), ids=list(CLI_CASES))
def test_cli_prints_one_line_per_failing_check_and_no_traceback(
    proxy: Callable[..., str],
    kind: str,
    status: int,
    sts_ok: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {
        "MODE": "aws",
        "MWAA_ENVIRONMENT_NAME": "env",
        "S3_DAGS_BUCKET": "dags",
        "RESULTS_URI": "s3://results/backtests",
        "BATCH_JOB_QUEUE": "q",
        "BATCH_JOB_DEFINITION": "engine",
        "AWS_ENDPOINT_URL": proxy(kind, status=status, sts_ok=sts_ok),
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "dummy-secret-key",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "APP_DATA_DIR": str(tmp_path / "app"),
        "CACHE_DIR": str(tmp_path / "cache"),
    }
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main() == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert "Traceback" not in out + err and "dummy-secret-key" not in out + err
    assert lines and all(line.startswith(("ok  ", "FAIL ")) for line in lines)
    failing = [line for line in lines if line.startswith("FAIL")]
    assert len(failing) >= (5 if sts_ok else 1)
    assert all("-> fix:" in line for line in failing)
