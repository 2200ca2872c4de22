"""botocore errors mapped to the project's errors at the adapter edge, with account ids and secrets masked."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from services.errors import (
    GATEWAY_STATUSES,
    AuthError,
    BacktestError,
    BadRequest,
    Conflict,
    Fault,
    NotFound,
    Unavailable,
    redact,
    trim,
)

ACCOUNT_VISIBLE_DIGITS = 4
MASK = "****"

_ACCOUNT_ID = re.compile(r"(?<![\w-])(\d{12})(?![\w-])")
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{12,}\b")
_URL_QUERY = re.compile(r"(https?://[^\s\"'?]+)\?[^\s\"']*")

# What botocore raises when an answer cannot be parsed (a proxy's HTML or plain text where AWS speaks
# XML): ResponseParserError, which is neither a ClientError nor a BotoCoreError.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
NOT_AWS_EXCERPT_CHARS = 120

NETWORK_FIX = "Check the network, AWS_REGION and any AWS_ENDPOINT_URL or HTTPS_PROXY, then retry"
NOT_AWS_FIX = (
    "Something between the app and AWS answered in its place: check HTTPS_PROXY, AWS_ENDPOINT_URL and "
    "the network, then retry"
)
SERVER_FIX = "AWS or a proxy in between failed: retry in a moment; check HTTPS_PROXY if it persists"
THROTTLE_FIX = "Wait a moment and retry; fewer concurrent users or a higher AWS quota avoid it"
SLOW_FIX = "AWS did not answer in time: retry in a moment"

NOT_FOUND_CODES = frozenset(
    {
        "404",
        "NotFound",
        "NoSuchKey",
        "NoSuchBucket",
        "NoSuchEntity",
        "ResourceNotFoundException",
        "NoSuchPublicAccessBlockConfiguration",
    }
)
AUTH_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "MissingAuthenticationToken",
        "SignatureDoesNotMatch",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidToken"})
INVALID_KEY_CODES = frozenset(
    {"InvalidAccessKeyId", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"}
)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
    }
)
SERVER_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
CONFLICT_CODES = frozenset({"ConflictException", "OperationAborted", "BucketAlreadyExists"})

# IAM actions whose names differ from the API operation they authorise.
_IAM_ACTION_OF = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketVersioning"): "s3:GetBucketVersioning",
}
_IAM_PREFIX_OF = {"mwaa": "airflow"}  # the MWAA API's IAM service prefix


def mask_account_ids(text: str) -> str:
    """Text with every 12-digit AWS account id shown as `****1234` (in ARNs and alone)."""
    return _ACCOUNT_ID.sub(lambda m: MASK + m.group(1)[-ACCOUNT_VISIBLE_DIGITS:], text)


def mask_account(account_id: str) -> str:
    """`****1234` for an account id (an empty string stays empty)."""
    return MASK + account_id[-ACCOUNT_VISIBLE_DIGITS:] if account_id else ""


def safe_text(text: str) -> str:
    """Text fit for a message or an INFO log: account ids masked, access key ids, signatures,
    session tokens, URL query strings (signed URLs) and bearer tokens removed."""
    text = _URL_QUERY.sub(lambda m: m.group(1) + "?…", text)
    text = _ACCESS_KEY_ID.sub("[access key]", text)
    return mask_account_ids(redact(text))


def iam_action(service: str, operation: str) -> str:
    """The IAM action an API operation needs, e.g. ("s3", "HeadObject") -> "s3:GetObject"."""
    if (service, operation) in _IAM_ACTION_OF:
        return _IAM_ACTION_OF[(service, operation)]
    return f"{_IAM_PREFIX_OF.get(service, service)}:{operation}"


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (e.g. "NoSuchKey"); "" when absent."""
    return str(exc.response.get("Error", {}).get("Code") or "")


def http_status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _client_error(exc: ClientError, what: str, service: str, resource: str) -> BacktestError:
    code = error_code(exc)
    status = http_status(exc)
    aws_message = trim(safe_text(str(exc.response.get("Error", {}).get("Message") or "")))
    on = f" on {resource}" if resource else ""
    detail = f"{code}: {aws_message}" if aws_message else code
    if code in EXPIRED_CODES:
        return AuthError(
            f"{what}: the AWS credentials have expired; refresh them (e.g. `aws sso login`)",
            status=status,
            detail=detail,
        )
    if code in INVALID_KEY_CODES:
        return AuthError(
            f"{what}: AWS rejected the credentials ({code}); check the access key or AWS_PROFILE",
            status=status,
            detail=detail,
        )
    if code in AUTH_CODES or status == 403:
        action = iam_action(service, exc.operation_name)
        return AuthError(
            f"{what}: access denied; the credentials need {action}{on}", status=status, detail=detail
        )
    if code in NOT_FOUND_CODES or status == 404:
        return NotFound(f"{what}: not found" + (f" ({code})" if code else ""), status=status, detail=detail)
    if code in THROTTLE_CODES or status == 429:
        # A throttled request was refused before any work was done: safe to send again.
        return Unavailable(
            f"{what}: AWS is throttling requests; try again shortly",
            status=status,
            detail=detail,
            not_sent=True,
            fault=Fault.THROTTLED,
            fix=THROTTLE_FIX,
        )
    if code in SERVER_CODES or (status is not None and status >= 500):
        fault = Fault.GATEWAY if status in GATEWAY_STATUSES else Fault.SERVER
        return Unavailable(
            f"{what}: AWS answered with a server error ({code or status})",
            status=status,
            detail=detail,
            fault=fault,
            fix=SERVER_FIX,
        )
    if code in CONFLICT_CODES or status == 409:
        return Conflict(f"{what}: {aws_message or code}", status=status, detail=detail)
    return BadRequest(
        f"{what}: {code}" + (f": {aws_message}" if aws_message else ""), status=status, detail=detail
    )


def map_aws_error(exc: BaseException, what: str, *, service: str, resource: str = "") -> BacktestError:
    """The project error for a botocore error; the message names `what` failed and, when access was
    denied, the IAM action and resource to allow. The caught exception is left untouched."""
    if isinstance(exc, ClientError):
        return _client_error(exc, what, service, resource)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return AuthError(
            f"{what}: no usable AWS credentials found (none in the environment, in the AWS_PROFILE "
            "profile or from an instance role)"
        )
    if isinstance(exc, ProfileNotFound):
        return AuthError(f"{what}: {safe_text(str(exc))}; fix AWS_PROFILE in .env or ~/.aws/config")
    if isinstance(exc, ResponseParserError):
        return not_aws(what, str(exc))
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ProxyConnectionError):
        return Unavailable(
            f"{what}: cannot reach the AWS endpoint ({safe_text(str(exc))})",
            not_sent=True,
            fault=Fault.UNREACHABLE,
            fix=NETWORK_FIX,
        )
    if isinstance(exc, ReadTimeoutError):
        return Unavailable(f"{what}: AWS did not answer in time", fault=Fault.SLOW, fix=SLOW_FIX)
    if isinstance(exc, ParamValidationError):
        return BadRequest(f"{what}: invalid request: {safe_text(str(exc))}")
    if isinstance(exc, NoRegionError):
        return BadRequest(f"{what}: no AWS region configured; set AWS_REGION in .env")
    if isinstance(exc, BotoCoreError):
        return Unavailable(f"{what}: {type(exc).__name__}: {safe_text(str(exc))}")
    return BacktestError(f"{what}: {type(exc).__name__}: {safe_text(str(exc))}")


def not_aws(what: str, text: str = "") -> Unavailable:
    """The error for an answer that is not AWS's (a proxy's HTML or plain text where AWS speaks XML)."""
    # botocore's text quotes the body after "received"; a line of it says who answered (a proxy page).
    text = " ".join(safe_text(text).split())
    excerpt = text.partition("received.")[2].removeprefix(" Further retries may succeed:").strip()
    excerpt = excerpt[:NOT_AWS_EXCERPT_CHARS]
    return Unavailable(
        f"{what}: the answer was not from AWS (not XML or JSON)" + (f": {excerpt}" if excerpt else ""),
        detail=text,
        fault=Fault.GATEWAY,
        fix=NOT_AWS_FIX,
    )


@contextlib.contextmanager
def aws_errors(what: str, *, service: str, resource: str = "") -> Iterator[None]:
    """Re-raise botocore errors inside the block as the project's errors (the cause is dropped,
    so its ResponseMetadata and request details never reach a traceback shown to users)."""
    try:
        yield
    except AWS_ERRORS as exc:
        raise map_aws_error(exc, what, service=service, resource=resource) from None
