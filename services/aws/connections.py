"""Connection checks of AWS mode: credentials, MWAA, DAGs bucket, Batch queue and definition, results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from services.airflow.client import AirflowClient
from services.airflow.mwaa import get_mwaa_environment
from services.aws.clients import ClientSource, resolve_client
from services.aws.errors import (
    AWS_ERRORS,
    error_code,
    map_aws_error,
    mask_account,
    mask_account_ids,
    not_aws,
)
from services.checks import failed_check, passed_check
from services.connections import writable
from services.deadline import deadline
from services.errors import TRANSPORT_FAULTS, AuthError, BacktestError, NotFound
from services.models import CheckResult
from services.settings import Settings
from services.storage import ArtifactStore

PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NO_PUBLIC_ACCESS_BLOCK = "NoSuchPublicAccessBlockConfiguration"
MISSING_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})
NEEDS = "the credentials need "  # how aws_errors names a missing permission
CREDENTIALS_FIX = (
    "Set AWS_PROFILE in .env (then `aws sso login` if it uses SSO), or export AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or run on a host with an IAM role"
)


class AwsConnections:
    """Every check of AWS mode, each naming the resource it looked at and, on failure, the fix.

    Wraps STS GetCallerIdentity, MWAA GetEnvironment (and one `GET /version` through InvokeRestApi),
    S3 HeadBucket / PutObject / DeleteObject / GetBucketVersioning / GetPublicAccessBlock, and Batch
    DescribeJobQueues / DescribeJobDefinitions.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sts: ClientSource,
        s3: ClientSource,
        mwaa: ClientSource,
        batch: ClientSource,
        client: AirflowClient,
        dags: ArtifactStore,
        results: ArtifactStore,
    ) -> None:
        self._settings = settings
        self._sts, self._s3, self._mwaa, self._batch = sts, s3, mwaa, batch
        self._client = client
        self._dags = dags
        self._results = results

    def check_all(self) -> list[CheckResult]:
        credentials = self.check_credentials()
        if not credentials.ok:  # every other check would fail the same way
            return [credentials]
        checks = [credentials]
        environment = self.check_environment()
        checks.append(environment)
        if environment.ok:
            with deadline():  # a page waits for a slow Airflow no longer than for any other
                checks.append(self.check_airflow_api())
        checks += self.check_dags_bucket()
        checks += [self.check_job_queue(), self.check_job_definition()]
        checks.append(writable("results_location", "Results location writable", self._results))
        return checks

    # ---- credentials -------------------------------------------------------------------------------

    def check_credentials(self) -> CheckResult:
        profile = self._settings.aws_profile
        resource = f"profile {profile}" if profile else "default credential chain"
        label = "AWS credentials"
        what = "STS GetCallerIdentity"
        try:
            identity = resolve_client(self._sts).get_caller_identity()
        except AWS_ERRORS as exc:
            return _fail(
                "credentials", label, resource, map_aws_error(exc, what, service="sts"), CREDENTIALS_FIX
            )
        except KeyError:  # botocore's XML parser on a well-formed page that is not AWS's (a proxy's login)
            return _fail("credentials", label, resource, not_aws(what), CREDENTIALS_FIX)
        account = mask_account(str(identity.get("Account") or ""))
        who = mask_account_ids(str(identity.get("Arn") or "")).rpartition(":")[2]
        detail = f"account {account}" + (f", {who}" if who else "")
        return passed_check("credentials", label, detail, resource=resource)

    # ---- MWAA ------------------------------------------------------------------------------------

    def check_environment(self) -> CheckResult:
        name = self._settings.mwaa_environment_name or ""
        label, resource = "MWAA environment", f"{name} ({self._settings.aws_region})"
        try:
            env = get_mwaa_environment(self._mwaa, name)
        except NotFound as exc:
            fix = "Check MWAA_ENVIRONMENT_NAME and AWS_REGION in .env"
            return _fail("mwaa_environment", label, resource, exc, fix)
        except BacktestError as exc:
            fix = f"Allow airflow:GetEnvironment on environment {name}"
            return _fail("mwaa_environment", label, resource, exc, fix)
        detail = f"{env.status}, Airflow {env.airflow_version}, {env.webserver_url or 'no webserver URL'}"
        if not env.available:
            return failed_check(
                "mwaa_environment",
                label,
                detail,
                "Wait until the environment is AVAILABLE (MWAA console), or fix what its status says",
                resource=resource,
            )
        return passed_check("mwaa_environment", label, detail, resource=resource)

    def check_airflow_api(self) -> CheckResult:
        name = self._settings.mwaa_environment_name or ""
        label, resource = "Airflow API through MWAA", f"{name} InvokeRestApi"
        try:
            version = self._client.version()
        except BacktestError as exc:
            fix = (
                f"Allow airflow:InvokeRestApi on environment {name} (Airflow role User or Op), "
                "and update the environment if MWAA asks for it"
            )
            return _fail("airflow", label, resource, exc, fix)
        return passed_check(
            "airflow", label, f"Airflow {version.version} (API {self._client.api_version})", resource=resource
        )

    # ---- the DAGs bucket ---------------------------------------------------------------------------

    def check_dags_bucket(self) -> list[CheckResult]:
        bucket = self._settings.s3_dags_bucket or ""
        s3 = resolve_client(self._s3)
        label, resource = "DAGs bucket exists", f"s3://{bucket}"
        try:
            s3.head_bucket(Bucket=bucket)
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in MISSING_BUCKET:
                error: BacktestError = NotFound(f"S3 bucket {bucket} does not exist")
                fix = "Check S3_DAGS_BUCKET in .env: it must be the bucket of the MWAA environment"
            else:
                error = map_aws_error(
                    exc, f"S3 HeadBucket {bucket}", service="s3", resource=f"bucket {bucket}"
                )
                fix = f"Allow s3:ListBucket on bucket {bucket}"
            return [_fail("dags_bucket", label, resource, error, fix)]
        return [
            passed_check("dags_bucket", label, resource=resource),
            writable("dags_location", "DAGs location writable", self._dags),
            self._check_versioning(s3, bucket),
            self._check_public_access(s3, bucket),
        ]

    def _check_versioning(self, s3: Any, bucket: str) -> CheckResult:
        label, resource = "DAGs bucket versioning", f"s3://{bucket}"
        try:
            status = s3.get_bucket_versioning(Bucket=bucket).get("Status") or ""
        except AWS_ERRORS as exc:
            error = map_aws_error(
                exc, f"S3 GetBucketVersioning {bucket}", service="s3", resource=f"bucket {bucket}"
            )
            return _fail(
                "dags_versioning", label, resource, error, f"Allow s3:GetBucketVersioning on bucket {bucket}"
            )
        if status != "Enabled":
            return failed_check(
                "dags_versioning",
                label,
                (f"versioning is {status.lower()}" if status else "versioning was never enabled")
                + "; MWAA requires it enabled",
                (
                    f"aws s3api put-bucket-versioning --bucket {bucket} "
                    "--versioning-configuration Status=Enabled"
                ),
                resource=resource,
            )
        return passed_check("dags_versioning", label, "enabled", resource=resource)

    def _check_public_access(self, s3: Any, bucket: str) -> CheckResult:
        label, resource = "DAGs bucket public access blocked", f"s3://{bucket}"
        fix = (
            f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
            "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
        )
        try:
            config = s3.get_public_access_block(Bucket=bucket).get("PublicAccessBlockConfiguration") or {}
        except ClientError as exc:
            if error_code(exc) == NO_PUBLIC_ACCESS_BLOCK:
                return failed_check(
                    "dags_public_access",
                    label,
                    "the bucket has no public access block; MWAA requires all public access blocked",
                    fix,
                    resource=resource,
                )
            error = map_aws_error(
                exc, f"S3 GetPublicAccessBlock {bucket}", service="s3", resource=f"bucket {bucket}"
            )
            return _fail(
                "dags_public_access",
                label,
                resource,
                error,
                f"Allow s3:GetBucketPublicAccessBlock on bucket {bucket}",
            )
        except AWS_ERRORS as exc:
            error = map_aws_error(exc, f"S3 GetPublicAccessBlock {bucket}", service="s3")
            return _fail("dags_public_access", label, resource, error, "Check the network and try again")
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if not config.get(flag)]
        if off:
            return failed_check(
                "dags_public_access",
                label,
                "not blocked: " + ", ".join(off) + " off; MWAA requires all four on",
                fix,
                resource=resource,
            )
        return passed_check("dags_public_access", label, "all four blocks on", resource=resource)

    # ---- Batch -------------------------------------------------------------------------------------

    def check_job_queue(self) -> CheckResult:
        name = self._settings.batch_job_queue
        label = "Batch job queue"
        if not name:
            return _unset("batch_queue", label, "BATCH_JOB_QUEUE", "queue")
        resource = f"{name} ({self._settings.aws_region})"
        found, error = self._batch_call(
            lambda batch: batch.describe_job_queues(jobQueues=[name]).get("jobQueues") or [],
            f"Batch DescribeJobQueues {name}",
        )
        if error is not None:
            return _fail("batch_queue", label, resource, error, "Allow batch:DescribeJobQueues")
        if not found:
            return failed_check(
                "batch_queue",
                label,
                "no such job queue",
                "Check BATCH_JOB_QUEUE and AWS_REGION in .env",
                resource=resource,
            )
        queue = found[0]
        state, status = queue.get("state"), queue.get("status")
        detail = f"state {state}, status {status}"
        if state != "ENABLED" or status != "VALID":
            reason = mask_account_ids(str(queue.get("statusReason") or ""))
            return failed_check(
                "batch_queue",
                label,
                detail + (f": {reason}" if reason else ""),
                (
                    f"Enable the queue (aws batch update-job-queue --job-queue {name} --state ENABLED) "
                    "and fix its compute environment until its status is VALID"
                ),
                resource=resource,
            )
        return passed_check("batch_queue", label, detail, resource=resource)

    def check_job_definition(self) -> CheckResult:
        name = self._settings.batch_job_definition
        label = "Batch job definition"
        if not name:
            return _unset("batch_definition", label, "BATCH_JOB_DEFINITION", "definition")
        resource = mask_account_ids(name)
        by_revision = name.startswith("arn:") or name.rpartition(":")[2].isdigit()

        def describe(batch: Any) -> list[dict[str, Any]]:
            if by_revision:
                return batch.describe_job_definitions(jobDefinitions=[name]).get("jobDefinitions") or []
            pages = batch.get_paginator("describe_job_definitions").paginate(
                jobDefinitionName=name, status="ACTIVE"
            )
            return [item for page in pages for item in page.get("jobDefinitions") or ()]

        found, error = self._batch_call(describe, f"Batch DescribeJobDefinitions {resource}")
        if error is not None:
            return _fail("batch_definition", label, resource, error, "Allow batch:DescribeJobDefinitions")
        active = sorted(
            (item for item in found if item.get("status") == "ACTIVE"),
            key=lambda item: item.get("revision") or 0,
        )
        if not active:
            return failed_check(
                "batch_definition",
                label,
                "no ACTIVE revision",
                (
                    "Register the job definition (aws batch register-job-definition), "
                    "or fix BATCH_JOB_DEFINITION in .env"
                ),
                resource=resource,
            )
        revision = active[-1].get("revision")
        return passed_check("batch_definition", label, f"ACTIVE revision {revision}", resource=resource)

    def _batch_call(
        self, call: Callable[[Any], list[dict[str, Any]]], what: str
    ) -> tuple[list[dict[str, Any]], BacktestError | None]:
        try:
            return call(resolve_client(self._batch)), None
        except AWS_ERRORS as exc:
            return [], map_aws_error(exc, what, service="batch")


def _fail(key: str, label: str, resource: str, error: BacktestError, fix: str) -> CheckResult:
    # An access-denied message already names the permission; say it again as the fix.
    if isinstance(error, AuthError) and NEEDS in error.message:
        fix = "Allow " + error.message.rpartition(NEEDS)[2]
    # The check's own fix is about permissions or settings; a network or server fault needs its own.
    elif error.fault in TRANSPORT_FAULTS and error.fix:
        fix = error.fix
    return failed_check(key, label, error.message, fix, resource=resource)


def _unset(key: str, label: str, setting: str, thing: str) -> CheckResult:
    """`setting` is empty: set it to the Batch `thing` (queue, definition) its Airflow Variable names."""
    return failed_check(
        key,
        label,
        f"{setting} is not set, so it cannot be checked",
        f"Set {setting} in .env to the {thing} the Airflow Variable {setting.lower()} names",
        resource=f"{setting} not set",
    )
