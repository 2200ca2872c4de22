"""Why an HTTP request to Airflow got no answer (refused, DNS, timeouts, TLS) and what to do about it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from services.errors import Fault

# What to do about each way of not getting an answer from the local Airflow.
UNREACHABLE_FIXES = {
    Fault.REFUSED: "Start the local Airflow (.venv/bin/python scripts/local_airflow.py start), "
    "or check AIRFLOW_URL",
    Fault.DNS: "Check the host name in AIRFLOW_URL",
    Fault.UNREACHABLE: "Check AIRFLOW_URL, and that this machine can reach that host (network, firewall)",
    Fault.TLS: "Check AIRFLOW_URL's scheme (http or https) and the server's certificate",
    Fault.SLOW: "Retry in a moment; if Airflow stays slow, look at its load and logs "
    "(.venv/bin/python scripts/local_airflow.py status)",
    Fault.UNKNOWN: "Check AIRFLOW_URL and that Airflow is running, then retry",
}


def causes(exc: BaseException) -> Iterator[Any]:
    """The error and everything it wraps (args, reason, cause, context), each once."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, BaseException):
            stack.extend([*item.args, getattr(item, "reason", None), item.__cause__, item.__context__])


def never_sent(exc: BaseException) -> bool:
    """Whether a requests error happened before the request left (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    return any(isinstance(item, NewConnectionError) for item in causes(exc))


def fault_of(exc: requests.RequestException) -> Fault:
    """Why no answer came: refused, DNS, connect timeout, TLS, slow (read timeout) or unknown."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Fault.UNREACHABLE
    if isinstance(exc, requests.exceptions.Timeout):
        return Fault.SLOW
    wrapped = list(causes(exc))
    if any(isinstance(item, NameResolutionError) for item in wrapped):
        return Fault.DNS
    if any(isinstance(item, ConnectionRefusedError) for item in wrapped):
        return Fault.REFUSED
    if isinstance(exc, requests.exceptions.SSLError) or any(isinstance(c, ssl.SSLError) for c in wrapped):
        return Fault.TLS
    if any(isinstance(item, NewConnectionError) for item in wrapped):
        return Fault.UNREACHABLE
    return Fault.UNKNOWN
