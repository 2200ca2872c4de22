"""The one scrubber: a secret in any form upstream echoes it never survives; ordinary text is unchanged."""

from __future__ import annotations

import io
import json
import logging
import time
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services import redaction
from services.aws.errors import safe_text
from services.errors import Fault, http_error, trim
from services.redaction import (
    REDACTED,
    redact,
    redact_logs,
    remember_secret,
    split_userinfo,
    without_userinfo,
)

# Secrets as people and servers make them: letters, digits and punctuation, at least 6 characters.
SECRET_CHARS = st.characters(min_codepoint=33, max_codepoint=126)
secrets = st.text(SECRET_CHARS, min_size=6, max_size=40)
# Tokens as they travel in headers (RFC 6750 token68).
tokens = st.from_regex(r"[A-Za-z0-9._~+/-]{6,60}=*", fullmatch=True)
LONG_TEXT_CHARS = 200_000
LINEAR_SCRUB_BOUND_S = 5.0  # ~0.3 s measured on a 2-core machine
SECRET_KEYS = st.sampled_from(
    ["password", "passwd", "access_token", "api_key", "client_secret", "aws_secret_access_key",
     "SecretAccessKey", "SessionToken", "aws_session_token", "token", "secret", "AIRFLOW_PASSWORD"]
)  # fmt: skip
AROUND = st.sampled_from(["", "Airflow said: ", "HTTP 422: ", "error ", "("])
AFTER = st.sampled_from(["", ")", " and more", ", then retry", "\n"])


def embedded(form: str, key: str, secret: str) -> str:
    if form == "json":
        return json.dumps({"detail": "bad login", key: secret})
    if form == "repr":
        return repr({"detail": "bad login", key: secret})
    if form == "form":
        return urlencode({"user": "admin", key: secret})
    if form == "url":
        return f"http://admin:{quote(secret, safe='')}@airflow.internal:8080/api/v2"
    raise AssertionError(form)


@settings(max_examples=150, deadline=None)
@given(
    form=st.sampled_from(["json", "repr", "form", "url"]),
    key=SECRET_KEYS,
    secret=secrets,
    before=AROUND,
    after=AFTER,
)
def test_a_secret_in_any_form_never_survives(
    form: str, key: str, secret: str, before: str, after: str
) -> None:
    text = before + embedded(form, key, secret) + after
    cleaned = redact(text)
    assert secret not in cleaned
    if form == "url":
        assert quote(secret, safe="") not in cleaned and "airflow.internal:8080" in cleaned
    else:
        assert REDACTED in cleaned


@settings(max_examples=100, deadline=None)
@given(token=tokens, scheme=st.sampled_from(["Bearer", "Basic", "bearer"]), before=AROUND, after=AFTER)
def test_an_authorization_header_never_survives(token: str, scheme: str, before: str, after: str) -> None:
    for header in (f"Authorization: {scheme} {token}", f"'Authorization': '{scheme} {token}'"):
        assert token not in redact(before + header + after)


@settings(max_examples=100, deadline=None)
@given(secret=secrets)
def test_a_remembered_password_never_survives_in_any_encoding(secret: str) -> None:
    with pytest.MonkeyPatch.context() as patch:  # remembered secrets are process-wide: forget them after
        patch.setattr(redaction, "_remembered", frozenset())
        remember_secret(secret)
        for text in (f"login {secret} refused", quote(secret, safe=""), json.dumps(secret), repr(secret)):
            assert secret not in redact(text)


ORDINARY = [
    "POST /auth/token: HTTP 500",
    "GET /api/v2/dags/backtest_sweep_a?limit=100: HTTP 404: Not Found",
    "the token expired",
    "Invalid JWT token",
    "basic auth is off",
    "Bearer token required",
    "password rejected for user 'admin'",
    "Check AIRFLOW_USERNAME and AIRFLOW_PASSWORD in .env",
    "cannot reach Airflow at http://127.0.0.1:8080 (GET /version): connection refused",
    '{"detail": {"reason": "Database error", "statement": null}}',
    "{'detail': 'Not Found', 'status': 404}",
    "HTTP 503: Service Unavailable",
    "state=running dag_id=backtest_sweep_momentum",
    "a token: used once",
    "s3://bucket/dags/backtest_sweep_a.py",
    '"token": null',
]
words = st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.one_of(st.sampled_from(ORDINARY), words), max_size=8),
    sep=st.sampled_from([" ", "; ", "\n"]),
)
def test_text_without_secrets_is_unchanged(parts: list[str], sep: str) -> None:
    text = sep.join(parts)
    assert redact(text) == text


def test_http_stays_readable_with_only_the_secret_removed() -> None:
    message = redact('POST /auth/token: HTTP 500: {"password": "hunter22", "username": "admin"}')
    assert message == 'POST /auth/token: HTTP 500: {"password": "[redacted]", "username": "admin"}'


def test_header_keeps_its_scheme_and_a_jwt_goes_anywhere() -> None:
    jwt = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"
    assert redact("Authorization: Bearer abc") == f"Authorization: Bearer {REDACTED}"
    assert redact(f"the cookie was {jwt}.") == f"the cookie was {REDACTED}."


def test_long_opaque_session_token_is_removed() -> None:
    token = "IQoJb3JpZ2luX2VjEJr" * 8
    assert token not in redact(f"X {token} Y") and redact("x" * 150) == "x" * 150


def test_error_messages_and_aws_texts_use_the_same_scrubber() -> None:
    error = http_error(422, {"detail": "{'password': 'pa55word!'}"}, "Airflow POST /auth/token")
    assert "pa55word!" not in error.message and "HTTP 422" in error.message
    assert "pa55word!" not in safe_text("'password': 'pa55word!'")
    assert "pa55word!" not in trim("x " * 10_000 + "password=pa55word!")


def test_url_userinfo_split_and_hidden() -> None:
    assert split_userinfo("http://us%40r:p%40ss@host:8080/x") == ("http://host:8080/x", "us@r", "p@ss")
    assert split_userinfo("http://host:8080") == ("http://host:8080", None, None)
    assert without_userinfo("https://token@host") == "https://host"


def test_http_statuses_name_the_fault_and_its_fix() -> None:
    assert http_error(500, {"detail": "boom"}, "x").fault is Fault.SERVER
    assert "logs" in http_error(500, None, "x").fix and "Start" not in http_error(500, None, "x").fix
    assert http_error(502, None, "x").fault is Fault.GATEWAY
    assert http_error(503, None, "x").fault is Fault.BUSY
    assert "AIRFLOW_PASSWORD" in http_error(401, None, "x").fix
    assert http_error(404, None, "x").fix == ""


def test_log_handlers_write_no_secret() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.redaction")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        redact_logs(logger)
        redact_logs(logger)  # idempotent: one filter per handler
        logger.warning("login to %s with %s", "http://bob:hunter22@host:8080", {"password": "hunter22"})
        try:
            raise RuntimeError("Authorization: Bearer abcdef123456")
        except RuntimeError:
            logger.exception("POST /auth/token: HTTP 500")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "hunter22" not in written and "abcdef123456" not in written
    assert "login to http://host:8080 with" in written and "POST /auth/token: HTTP 500" in written
    assert "RuntimeError" in written and len(handler.filters) == 1


@pytest.mark.parametrize("unit", ["a-", "a.", "http://", "Bearer ", "password= ", "x"])
def test_scrubbing_time_grows_linearly_with_the_text(unit: str) -> None:
    text = unit * (LONG_TEXT_CHARS // len(unit))
    started = time.monotonic()
    redact(text)
    assert time.monotonic() - started < LINEAR_SCRUB_BOUND_S  # a quadratic scan takes minutes here


def test_the_app_scrubs_what_its_log_handlers_write(tmp_path) -> None:
    """create_app puts the filter on the handlers already set up (app.py's basicConfig, gunicorn's)."""
    from tests.fakes import use_fake_services

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        from app import create_app

        services = use_fake_services(tmp_path)
        create_app(services.settings, services)
        logging.getLogger("backtest_frontend").warning("login failed: Authorization: Bearer abc.def.ghi123")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "abc.def.ghi123" not in stream.getvalue() and "login failed" in stream.getvalue()
