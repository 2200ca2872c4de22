"""MwaaTransport: Airflow's REST API through MWAA's `InvokeRestApi` (boto3), for Airflow 2.x and 3.x."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from services.airflow.transport import ApiRequest, ApiResponse, QueryValue, RetryingTransport, RetryPolicy
from services.aws.clients import ClientSource, resolve_client
from services.aws.errors import (
    AWS_ERRORS,
    SLOW_FIX,
    aws_errors,
    error_code,
    map_aws_error,
    not_aws,
    safe_text,
)
from services.deadline import current_deadline
from services.errors import AuthError, BacktestError, BadRequest, Fault, NotFound, Unavailable

log = logging.getLogger(__name__)

MWAA_MAX_PATH_CHARS = 64  # InvokeRestApi's `Path` limit (the service model says so; botocore does not check)
REST_API_ERRORS = frozenset({"RestApiClientException", "RestApiServerException"})
NOT_UPDATED_MARKER = "update your environment to use invokerestapi"
AVAILABLE = "AVAILABLE"
ENVIRONMENT_RETRY_S = 30.0  # how long a failed GetEnvironment is answered from memory
ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})

ApiVersion = Literal["v1", "v2"]


class MwaaEnvironment(BaseModel):
    """What GetEnvironment says about an environment (only what the app uses; no ARNs, no roles)."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: str = ""
    airflow_version: str = ""
    webserver_url: str = ""

    @property
    def api_version(self) -> ApiVersion:
        return api_version_of(self.airflow_version)

    @property
    def available(self) -> bool:
        return self.status == AVAILABLE


def api_version_of(airflow_version: str) -> ApiVersion:
    """ "v1" (`/api/v1`) for Airflow 2.x, "v2" (`/api/v2`) for Airflow 3.x and later."""
    head = airflow_version.strip().split(".", 1)[0]
    if not head.isdigit():
        raise BacktestError(f"cannot tell the Airflow version from {airflow_version!r}")
    return "v1" if int(head) < 3 else "v2"


def get_mwaa_environment(client: ClientSource, name: str) -> MwaaEnvironment:
    """`mwaa.get_environment(Name=name)`: status, Airflow version and webserver URL."""
    what = f"MWAA GetEnvironment {name}"
    with aws_errors(what, service="mwaa", resource=f"environment {name}"):
        raw = resolve_client(client).get_environment(Name=name).get("Environment")
    if not isinstance(raw, dict):  # botocore accepts any 200 body as JSON: a proxy's page gives nothing
        raise not_aws(what)
    host = str(raw.get("WebserverUrl") or "")
    return MwaaEnvironment(
        name=str(raw.get("Name") or name),
        status=str(raw.get("Status") or ""),
        airflow_version=str(raw.get("AirflowVersion") or ""),
        webserver_url=host if not host or host.startswith(("http://", "https://")) else f"https://{host}",
    )


def _not_updated(exc: ClientError) -> bool:
    """MWAA's answer from an environment that predates InvokeRestApi support."""
    text = f"{exc.response.get('Error', {}).get('Message') or ''} {exc.response.get('RestApiResponse') or ''}"
    return NOT_UPDATED_MARKER in text.lower()


def _query_value(value: QueryValue) -> Any:
    """A query value as InvokeRestApi forwards it: booleans as Airflow parses them, lists of strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return value


class MwaaTransport:
    """`AirflowTransport` over `mwaa.invoke_rest_api(Name, Path, Method, QueryParameters, Body)`.

    Airflow's answer comes back as the same `ApiResponse` the HTTP transport gives: a 2xx in
    `RestApiStatusCode`/`RestApiResponse`, and 4xx/5xx from the `RestApiClientException` /
    `RestApiServerException` that carry the same two fields. Other AWS errors (access denied,
    environment missing or not updated for InvokeRestApi, throttling) raise the project's errors.
    `max_path_length` tells `AirflowClient` to use short-path endpoints where needed. Transient
    failures (429, 502-504, "database is locked") are retried with backoff.
    """

    max_path_length = MWAA_MAX_PATH_CHARS

    def __init__(
        self,
        client: ClientSource,
        environment_name: str,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_source = client
        self.environment_name = environment_name
        self._environment: MwaaEnvironment | None = None
        self._environment_failure: tuple[float, BacktestError] | None = None
        self._environment_lock = threading.Lock()
        self._clock = clock
        self._retrying = RetryingTransport(self._send_once, retry or RetryPolicy(), sleep=sleep)

    def __repr__(self) -> str:
        return f"MwaaTransport(environment={self.environment_name!r})"

    def describe(self) -> str:
        return f"MWAA environment {self.environment_name}"

    def __call__(self, request: ApiRequest) -> ApiResponse:
        return self._retrying(request)

    # ---- the environment (GetEnvironment, fetched once) -------------------------------------------

    def environment(self) -> MwaaEnvironment:
        """GetEnvironment of this environment, asked once per transport (version and URL do not move).

        A failure is remembered for ENVIRONMENT_RETRY_S, so pages that need the version or the UI
        link do not each wait for AWS while it cannot answer."""
        if self._environment is not None:
            return self._environment
        with self._environment_lock:
            if self._environment is None:
                failed_at, error = self._environment_failure or (None, None)
                if (
                    failed_at is not None
                    and error is not None
                    and self._clock() - failed_at < ENVIRONMENT_RETRY_S
                ):
                    raise error
                try:
                    self._environment = get_mwaa_environment(self._client_source, self.environment_name)
                except BacktestError as exc:
                    failure = self._missing_environment(exc) if isinstance(exc, NotFound) else exc
                    self._environment_failure = (self._clock(), failure)
                    raise failure from None
                self._environment_failure = None
            return self._environment

    def _missing_environment(self, exc: BacktestError) -> BacktestError:
        # Not NotFound: callers read that as "no such DAG or run", which would hide the cause.
        return BacktestError(
            f"there is no MWAA environment {self.environment_name} in this region; "
            "check MWAA_ENVIRONMENT_NAME and AWS_REGION",
            status=exc.status,
            detail=exc.detail,
        )

    def api_version(self) -> ApiVersion:
        """ "v1" for Airflow 2.x environments, "v2" for 3.x (GetEnvironment's AirflowVersion)."""
        return self.environment().api_version

    def webserver_url(self) -> str:
        """`https://<WebserverUrl>`: the Airflow UI of the environment."""
        return self.environment().webserver_url

    # ---- one call ---------------------------------------------------------------------------------

    def _arguments(self, request: ApiRequest) -> dict[str, Any]:
        path, _, query = request.path.partition("?")
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        params.update({name: _query_value(value) for name, value in request.params.items()})
        if len(path) > MWAA_MAX_PATH_CHARS:
            raise BadRequest(
                f"{request.method.upper()} {path} is too long for MWAA: InvokeRestApi accepts paths of at "
                f"most {MWAA_MAX_PATH_CHARS} characters and this one has {len(path)}"
            )
        arguments: dict[str, Any] = {
            "Name": self.environment_name,
            "Path": path,
            "Method": request.method.upper(),
        }
        if params:
            arguments["QueryParameters"] = params
        if request.json is not None:
            if not isinstance(request.json, Mapping):
                raise BadRequest(f"{request.describe()}: MWAA InvokeRestApi takes a JSON object as body")
            arguments["Body"] = dict(request.json)
        return arguments

    def _send_once(self, request: ApiRequest) -> ApiResponse:
        arguments = self._arguments(request)
        deadline = current_deadline()
        # botocore's timeouts are the client's; a call whose deadline has passed is not started at all.
        if deadline is not None and deadline.expired:
            raise Unavailable(
                f"MWAA {self.environment_name} is slow (no answer within {deadline.total_s:g} s, "
                f"{request.describe()})",
                not_sent=True,
                fault=Fault.SLOW,
                fix=SLOW_FIX,
            )
        started = time.monotonic()
        try:
            raw = resolve_client(self._client_source).invoke_rest_api(**arguments)
        except ClientError as exc:
            if _not_updated(exc):
                raise self._not_updated_error(exc) from None
            if error_code(exc) in REST_API_ERRORS and "RestApiStatusCode" in exc.response:
                return ApiResponse(
                    status=int(exc.response["RestApiStatusCode"]), json=exc.response.get("RestApiResponse")
                )
            raise self._error(exc, request) from None
        except AWS_ERRORS as exc:  # the rest: connection, timeout, an answer that is not AWS's
            raise self._error(exc, request) from None
        log.debug(
            "MWAA %s -> %s in %.0f ms",
            request.describe(),
            raw.get("RestApiStatusCode"),
            1000 * (time.monotonic() - started),
        )
        if "RestApiStatusCode" not in raw:  # botocore takes any 200 body for JSON: a proxy's page gives {}
            raise not_aws(f"MWAA {self.environment_name} {request.describe()}")
        return ApiResponse(status=int(raw["RestApiStatusCode"]), json=raw.get("RestApiResponse"))

    def _not_updated_error(self, exc: ClientError) -> BadRequest:
        return BadRequest(
            f"MWAA environment {self.environment_name} cannot take Airflow API calls yet: it must be "
            "updated to support InvokeRestApi (in the MWAA console, edit the environment and save it, "
            "or move to a current Airflow version), then try again",
            detail=safe_text(str(exc.response.get("Error", {}).get("Message") or "")),
        )

    def _error(self, exc: BaseException, request: ApiRequest) -> BacktestError:
        what = f"MWAA {self.environment_name} {request.describe()}"
        name = self.environment_name
        if isinstance(exc, ClientError):
            message = str(exc.response.get("Error", {}).get("Message") or "")
            if error_code(exc) == "ResourceNotFoundException":
                return self._missing_environment(BacktestError(what, status=404, detail=safe_text(message)))
        error = map_aws_error(exc, what, service="mwaa", resource=f"environment {name}")
        if isinstance(error, AuthError) and isinstance(exc, ClientError) and error_code(exc) in ACCESS_DENIED:
            return AuthError(
                f"{what}: access denied; the credentials need airflow:InvokeRestApi on the environment's "
                f"Airflow role (arn:aws:airflow:<region>:<account>:role/{name}/User or Op)",
                status=error.status,
                detail=error.detail,
            )
        if isinstance(error, NotFound):
            return BacktestError(error.message, status=error.status, detail=error.detail)
        return error
