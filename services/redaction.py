"""The one scrubber: secrets out of every text the app shows or logs, ordinary words left alone."""

from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import SecretStr

REDACTED = "[redacted]"
# Shorter remembered secrets would eat ordinary words; key patterns still catch them in `password=x`.
MIN_REMEMBERED_CHARS = 4
# An unbroken run of base64 this long with mixed case and digits is a token (an STS session token).
OPAQUE_TOKEN_MIN_CHARS = 100

# `scheme://user:password@host`: the userinfo, up to the last `@` before the path.
_URL_USERINFO = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://)[^\s/?#'\"<>]*@")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# Names whose value is a secret, alone or at the end of a longer name (db_password, X-Amz-Security-Token).
_SECRET_NAME = (
    r"password|passwd|pwd|secret(?:[_-]?access)?[_-]?key|private[_-]?key|api[_-]?key|apikey"
    r"|secret|token|authorization|credentials?|signature|cookie"
)
# Alone and followed by `: word`, these are as likely prose ("the token: it expired") as a secret.
_PROSE_NAMES = frozenset({"token", "secret", "signature", "credential", "credentials", "cookie"})
_AUTH_SCHEME = r"(?i:bearer|basic|digest|token|negotiate|aws4-hmac-sha256)"
_QUOTED = r"b?\"(?:[^\"\\]|\\.)*\"|b?'(?:[^'\\]|\\.)*'"
_KEY_VALUE = re.compile(
    r"(?<![\w/.-])(?P<kq>[\"']?)(?P<key>(?i:[\w.-]*?(?:" + _SECRET_NAME + r")))(?P=kq)(?![\w-])"
    r"(?P<sep>\s*[:=]\s*)"
    r"(?!(?:null|None|true|false|True|False)\b)"
    r"(?P<value>" + _QUOTED + r"|(?P<scheme>" + _AUTH_SCHEME + r"\s+)?[^\s,;&}\]'\"]+)"
)
# `Bearer x` outside a header: only when x looks like a credential (not "Bearer token", "basic auth").
_CREDENTIAL = r"(?:(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}|[A-Za-z]{20,})"
_BARE_SCHEME = re.compile(r"\b((?i:bearer|basic)\s+)" + _CREDENTIAL + r"(?![A-Za-z0-9._~+/=-])")
_OPAQUE = re.compile(rf"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/=]{{{OPAQUE_TOKEN_MIN_CHARS},}}(?![A-Za-z0-9+/=])")

_remembered: frozenset[str] = frozenset()
_remember_lock = threading.Lock()


def remember_secret(secret: SecretStr | str | None) -> None:
    """Scrub this value (a configured password) from every text from now on, in any encoding."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value or len(value) < MIN_REMEMBERED_CHARS:
        return
    forms = {value, quote(value, safe=""), quote(value), json.dumps(value)[1:-1], repr(value)[1:-1]}
    global _remembered
    with _remember_lock:
        _remembered = _remembered | {form for form in forms if len(form) >= MIN_REMEMBERED_CHARS}


def _key_value(match: re.Match[str]) -> str:
    key, sep, value = match.group("key"), match.group("sep"), match.group("value")
    quoted = bool(match.group("kq")) or value[-1:] in "\"'"
    if ":" in sep and not quoted and key.lower() in _PROSE_NAMES:
        return match.group(0)
    if value[-1:] in "\"'":
        opening = value.index(value[-1])
        replaced = value[: opening + 1] + REDACTED + value[-1]
    else:
        replaced = (match.group("scheme") or "") + REDACTED
    return match.group(0)[: match.start("value") - match.start()] + replaced


def _opaque(match: re.Match[str]) -> str:
    run = match.group(0)
    mixed = any(c.isdigit() for c in run) and any(c.islower() for c in run) and any(c.isupper() for c in run)
    return REDACTED if mixed else run


def redact(text: str) -> str:
    """`text` without secrets: remembered values, URL userinfo, JWTs, `password`/`token`/`secret`-like
    values (JSON, Python repr, form, header), `Bearer`/`Basic` credentials and long opaque tokens."""
    for secret in sorted(_remembered, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(r"\1", text)
    text = _JWT.sub(REDACTED, text)
    text = _KEY_VALUE.sub(_key_value, text)
    text = _BARE_SCHEME.sub(lambda m: m.group(1) + REDACTED, text)
    return _OPAQUE.sub(_opaque, text)


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """(`url` without `user:password@`, the user, the password), both decoded; None where absent."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, unquote(password) if colon else None


def without_userinfo(url: str) -> str:
    """`url` fit to show: `http://user:pw@host:8080/x` -> `http://host:8080/x`."""
    return split_userinfo(url)[0]


class RedactingFilter(logging.Filter):
    """A handler filter that scrubs every record it passes: the message, the traceback, the stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Scrub what every handler of `logger` (default: the root logger) writes; call once logging is set up."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
