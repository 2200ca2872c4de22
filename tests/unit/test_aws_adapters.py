"""The AWS adapters' own logic: error mapping and masking, client building, S3 integrity, Batch mapping."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ParamValidationError
from botocore.stub import ANY, Stubber

from services.aws.batch import (
    BatchJob,
    BatchJobStatus,
    job_from_description,
    log_stream_url,
    point_states_from_jobs,
)
from services.aws.clients import MAX_RETRY_ATTEMPTS, RETRY_MODE, AwsClients
from services.aws.errors import aws_errors, map_aws_error, mask_account_ids, safe_text
from services.aws.s3_store import S3Store
from services.errors import AuthError, BadRequest, NotFound, StorageError, Unavailable
from services.models import PointState
from services.settings import load_settings
from tests.support.sweeps import grid_params, small_sweep

ACCOUNT = "123456789012"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def client_error(
    code: str, message: str = "", status: int = 400, operation: str = "PutObject"
) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"RequestId": "req-1", "HTTPStatusCode": status, "HTTPHeaders": {}},
        },
        operation,
    )


# ---- masking -------------------------------------------------------------------------------------


def test_mask_account_ids_in_arns_and_alone() -> None:
    assert (
        mask_account_ids(f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/q")
        == "arn:aws:batch:us-east-1:****9012:job-queue/q"
    )
    assert mask_account_ids(f"account {ACCOUNT}.") == "account ****9012."
    job_id = "9c1f2e4a-1b2c-4d5e-8f90-123456789012"  # a UUID's last group is not an account
    assert mask_account_ids(job_id) == job_id


def test_safe_text_removes_keys_signatures_and_tokens() -> None:
    text = (
        f"key {ACCESS_KEY} url https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Credential=x "
        f"aws_secret_access_key={SECRET_KEY} X-Amz-Security-Token: FwoGZXIvYXdzEJr "
        f"arn:aws:iam::{ACCOUNT}:role/app"
    )
    cleaned = safe_text(text)
    for secret in (ACCESS_KEY, SECRET_KEY, "abc&", "FwoGZXIvYXdzEJr", ACCOUNT):
        assert secret not in cleaned
    assert "https://b.s3.amazonaws.com/k?…" in cleaned
    assert "arn:aws:iam::****9012:role/app" in cleaned


# ---- mapping -------------------------------------------------------------------------------------


def test_access_denied_names_action_and_resource_and_masks_the_arn() -> None:
    exc = client_error(
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app/i-1 is not authorized to perform: s3:PutObject",
        403,
    )
    before = copy.deepcopy(exc.response)
    error = map_aws_error(exc, "S3 PutObject s3://dags/x.py", service="s3", resource="bucket dags")
    assert isinstance(error, AuthError)
    assert "the credentials need s3:PutObject on bucket dags" in error.message
    assert ACCOUNT not in error.message + error.detail and "****9012" in error.detail
    assert "req-1" not in error.message + error.detail  # no ResponseMetadata
    assert exc.response == before  # the caught exception is left as it was


@pytest.mark.parametrize(
    ("code", "status", "operation", "expected", "words"),
    [
        ("403", 403, "HeadObject", AuthError, "s3:GetObject"),
        ("AccessDenied", 403, "ListObjectsV2", AuthError, "s3:ListBucket"),
        ("ExpiredToken", 400, "GetCallerIdentity", AuthError, "expired"),
        ("InvalidClientTokenId", 403, "GetCallerIdentity", AuthError, "rejected the credentials"),
        ("NoSuchKey", 404, "GetObject", NotFound, "not found"),
        ("ResourceNotFoundException", 404, "GetEnvironment", NotFound, "not found"),
        ("ThrottlingException", 400, "DescribeJobs", Unavailable, "throttling"),
        ("SlowDown", 503, "PutObject", Unavailable, "throttling"),
        ("InternalError", 500, "PutObject", Unavailable, "server error"),
        ("ValidationException", 400, "InvokeRestApi", BadRequest, "ValidationException"),
    ],
)
def test_client_errors_map_by_code(
    code: str, status: int, operation: str, expected: type, words: str
) -> None:
    service = "s3" if operation in ("HeadObject", "ListObjectsV2", "GetObject", "PutObject") else "x"
    error = map_aws_error(client_error(code, "m", status, operation), "call", service=service)
    assert type(error) is expected
    assert words in error.message


def test_botocore_errors_map_by_kind() -> None:
    no_credentials = map_aws_error(NoCredentialsError(), "STS", service="sts")
    assert isinstance(no_credentials, AuthError) and "AWS_PROFILE" in no_credentials.message
    refused = map_aws_error(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9/?X-Amz-Signature=s"), "S3", service="s3"
    )
    assert isinstance(refused, Unavailable) and refused.not_sent
    assert "X-Amz-Signature=s" not in refused.message
    invalid = map_aws_error(ParamValidationError(report="Bucket is required"), "S3", service="s3")
    assert isinstance(invalid, BadRequest)


def test_the_context_manager_drops_the_botocore_cause() -> None:
    with pytest.raises(NotFound) as info, aws_errors("S3 GetObject", service="s3"):
        raise client_error("NoSuchKey", "missing", 404, "GetObject")
    assert info.value.__cause__ is None and info.value.__suppress_context__


# ---- clients -------------------------------------------------------------------------------------


def test_clients_are_built_on_first_use_with_the_shared_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    settings = load_settings(aws_region="eu-west-1", aws_profile=None)
    clients = AwsClients(settings)
    assert clients._clients == {}  # nothing built yet
    s3 = clients.client("s3")
    assert clients.client("s3") is s3
    assert s3.meta.region_name == "eu-west-1"
    assert s3.meta.endpoint_url == "http://127.0.0.1:9000"  # the service-specific variable wins
    assert clients.client("batch").meta.endpoint_url == "http://127.0.0.1:4566"
    assert s3.meta.config.retries == {"mode": RETRY_MODE, "total_max_attempts": MAX_RETRY_ATTEMPTS + 1}


def test_a_missing_profile_is_an_auth_error_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    clients = AwsClients(load_settings(aws_profile="no-such-profile"))
    with pytest.raises(AuthError) as info:
        clients.client("sts")
    assert "no-such-profile" in info.value.message and "AWS_PROFILE" in info.value.message


# ---- S3 integrity --------------------------------------------------------------------------------


@pytest.fixture
def s3_stub() -> Any:
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _put_params(data: bytes) -> dict[str, Any]:
    return {
        "Bucket": "dags-bucket",
        "Key": "dags/x.py",
        "Body": ANY,
        "ChecksumAlgorithm": "SHA256",
        "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "Metadata": {"sha256": hashlib.sha256(data).hexdigest()},
    }


def test_put_sends_the_checksum_and_accepts_a_matching_answer(s3_stub: Any) -> None:
    client, stubber = s3_stub
    data = b"x = 1\n"
    answer = {
        "ETag": f'"{hashlib.md5(data).hexdigest()}"',
        "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
    }
    stubber.add_response("put_object", answer, _put_params(data))
    stored = S3Store(client, "dags-bucket", "dags/").put("x.py", data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "answer",
    [
        {"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"other").digest()).decode()},
        {"ETag": f'"{hashlib.md5(b"other").hexdigest()}"'},
    ],
)
def test_put_mismatch_is_a_storage_error(s3_stub: Any, answer: dict[str, str]) -> None:
    client, stubber = s3_stub
    stubber.add_response("put_object", answer, _put_params(b"x = 1\n"))
    with pytest.raises(StorageError) as info:
        S3Store(client, "dags-bucket", "dags/").put("x.py", b"x = 1\n")
    assert "s3://dags-bucket/dags/x.py" in info.value.message


def test_a_kms_etag_is_not_compared_as_md5(s3_stub: Any) -> None:
    client, stubber = s3_stub
    data = b"x = 1\n"
    answer = {
        "ETag": '"0123456789abcdef0123456789abcdef"',
        "ServerSideEncryption": "aws:kms",
        "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
    }
    stubber.add_response("put_object", answer, _put_params(data))
    assert S3Store(client, "dags-bucket", "dags/").put("x.py", data).size == len(data)


def test_bad_digest_and_access_denied_on_put(s3_stub: Any) -> None:
    client, stubber = s3_stub
    stubber.add_client_error("put_object", "BadDigest", "The Content-MD5 you specified did not match", 400)
    stubber.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
    store = S3Store(client, "dags-bucket", "dags/")
    with pytest.raises(StorageError) as info:
        store.put("x.py", b"1")
    assert "checksum did not match" in info.value.message
    with pytest.raises(AuthError) as denied:
        store.put("x.py", b"1")
    assert "s3:PutObject on s3://dags-bucket/dags/x.py" in denied.value.message


# ---- Batch: states, log links, point mapping -----------------------------------------------------


def test_batch_status_has_one_mapping_and_an_unknown_value() -> None:
    assert BatchJobStatus.parse("running") is BatchJobStatus.RUNNING
    assert BatchJobStatus.parse("PAUSED_FOR_SOMETHING_NEW") is BatchJobStatus.UNKNOWN
    assert BatchJobStatus.parse(None) is BatchJobStatus.UNKNOWN


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "https://us-east-1.console.aws.amazon.com"),
        ("cn-north-1", "https://cn-north-1.console.amazonaws.cn"),
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com"),
    ],
)
def test_log_stream_url_is_region_aware(region: str, host: str) -> None:
    url = log_stream_url(region, "/aws/batch/job", "jd/default/abc:1")
    assert url == (
        f"{host}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fjob"
        "/log-events/jd$252Fdefault$252Fabc$253A1"
    )


def test_job_from_description_reads_chunk_and_log() -> None:
    raw = {
        "jobId": "abc",
        "jobName": "backtest_x",
        "status": "FAILED",
        "statusReason": f"Essential container exited; role arn:aws:iam::{ACCOUNT}:role/r",
        "createdAt": 1_700_000_000_000,
        "container": {
            "environment": [
                {"name": "BACKTEST_CHUNK_START", "value": "20"},
                {"name": "BACKTEST_CHUNK_COUNT", "value": "10"},
            ],
            "logStreamName": "jd/default/abc",
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/backtests"}},
        },
    }
    job = job_from_description(raw, "eu-west-1")
    assert (job.status, job.chunk_start, job.chunk_count) == (BatchJobStatus.FAILED, 20, 10)
    assert job.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert ACCOUNT not in (job.status_reason or "")
    assert job.log_url is not None and "$252Fbacktests" in job.log_url and "region=eu-west-1" in job.log_url


def _job(
    job_id: str, status: str, start: int, count: int, minute: int, parent: str | None = None
) -> BatchJob:
    return BatchJob(
        job_id=job_id,
        name="backtest_x",
        status=BatchJobStatus(status),
        created_at=datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
        chunk_start=start,
        chunk_count=count,
        parent_job_id=parent,
    )


def test_point_states_from_jobs_newest_job_of_a_chunk_wins() -> None:
    params = grid_params("MomentumStrategy", "10:100:10", "0.1", "0.05", "5")
    config = small_sweep("MomentumStrategy", name="batch_map", params=params, points_per_task=3)
    assert config.grid_size == 10
    jobs = [
        _job("a", "FAILED", 0, 3, minute=1),
        _job("b", "SUCCEEDED", 0, 3, minute=2),  # the retry of chunk 0
        _job("c", "RUNNING", 3, 3, minute=1),
        _job("d", "RUNNABLE", 6, 3, minute=1),
    ]
    states = point_states_from_jobs(config, jobs)
    assert states == [PointState.DONE] * 3 + [PointState.RUNNING] * 3 + [PointState.QUEUED] * 3 + [
        PointState.NOT_STARTED
    ]
