"""The cache every app process and host shares: one interface, a diskcache folder or Redis behind it.

Statuses (one upstream poll per sweep per interval), wall boards, flags, confirmations and deploy
progress live here. Without REDIS_URL it is a diskcache folder, which the gunicorn workers of one
host share; with REDIS_URL it is Redis, which every host shares.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import diskcache

from services.errors import Fault, Unavailable

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

# Values are stored as text: a str as itself after TEXT, anything else as JSON after JSON_TAG (so the
# large JSON documents the services keep, e.g. a sweep's status, are not encoded twice).
TEXT_TAG = "s"
JSON_TAG = "j"
REDIS_KEY_PREFIX = "backtest:"
REDIS_TIMEOUT_S = 5.0
LOCK_POLL_S = 0.005
CLEAR_BATCH = 500


def encode(value: Any) -> str:
    if isinstance(value, str):
        return TEXT_TAG + value
    return JSON_TAG + json.dumps(value, separators=(",", ":"))


def decode(raw: Any, default: Any = None) -> Any:
    """The value `encode` stored; `default` for anything else (an entry of an older format)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not isinstance(raw, str) or not raw:
        return default
    tag, body = raw[0], raw[1:]
    if tag == TEXT_TAG:
        return body
    if tag == JSON_TAG:
        try:
            return json.loads(body)
        except ValueError:
            return default
    return default


class SharedCache(Protocol):
    """Keys are str; values are str or JSON-able (a tuple comes back as a list); `expire` in seconds."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, expire: float | None = None) -> None: ...

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        """Store only when `key` is absent (atomic: one caller of many wins); whether it was stored."""

    def delete(self, key: str) -> bool: ...

    def pop(self, key: str, default: Any = None) -> Any:
        """Remove and return the value (atomic: one caller of many gets it), else `default`."""

    def lock(self, key: str, expire_s: float) -> AbstractContextManager[None]:
        """One holder at a time across every process sharing the cache; a holder that died frees it
        after `expire_s`."""

    def clear(self) -> int:
        """Remove every entry of this cache; how many."""


class DiskSharedCache:
    """A SharedCache over a diskcache folder (a `services.caches.RecoveringCache` in the app)."""

    backend = "diskcache"

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def get(self, key: str, default: Any = None) -> Any:
        return decode(self.cache.get(key), default)

    def set(self, key: str, value: Any, expire: float | None = None) -> None:
        self.cache.set(key, encode(value), expire=expire)

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        return bool(self.cache.add(key, encode(value), expire=expire))

    def delete(self, key: str) -> bool:
        return bool(self.cache.delete(key))

    def pop(self, key: str, default: Any = None) -> Any:
        return decode(self.cache.pop(key, default=None), default)

    def lock(self, key: str, expire_s: float) -> AbstractContextManager[None]:
        return diskcache.Lock(self.cache, key, expire=expire_s)

    def clear(self) -> int:
        return int(self.cache.clear())


def _unavailable(exc: Exception) -> Unavailable:
    import redis

    fault = Fault.SLOW if isinstance(exc, redis.TimeoutError) else Fault.UNREACHABLE
    if isinstance(exc, redis.AuthenticationError):
        fault = Fault.AUTH
    return Unavailable(
        "The shared cache (Redis) did not answer.",
        detail=type(exc).__name__,
        fault=fault,
        fix="Check that Redis at REDIS_URL is running and reachable from this host.",
    )


class RedisSharedCache:
    """A SharedCache in Redis under `backtest:<namespace>:` (GET, SET NX PX, GETDEL, redis-py's Lock).
    Redis errors become `Unavailable`, whose words name Redis and never the URL."""

    backend = "redis"

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._client = client
        self._prefix = f"{REDIS_KEY_PREFIX}{namespace}:"

    @classmethod
    def from_url(cls, url: str, namespace: str) -> RedisSharedCache:
        return cls(redis_client(url), namespace)

    def _call(self, method: str, key: str, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return getattr(self._client, method)(self._prefix + key, *args, **kwargs)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None

    @staticmethod
    def _px(expire: float | None) -> int | None:
        return None if expire is None else max(1, int(expire * 1000))

    def get(self, key: str, default: Any = None) -> Any:
        return decode(self._call("get", key), default)

    def set(self, key: str, value: Any, expire: float | None = None) -> None:
        self._call("set", key, encode(value), px=self._px(expire))

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        return bool(self._call("set", key, encode(value), px=self._px(expire), nx=True))

    def delete(self, key: str) -> bool:
        return bool(self._call("delete", key))

    def pop(self, key: str, default: Any = None) -> Any:
        return decode(self._call("getdel", key), default)

    @contextmanager
    def lock(self, key: str, expire_s: float) -> Iterator[None]:
        import redis
        from redis.exceptions import LockError

        lock = self._client.lock(self._prefix + key, timeout=expire_s, sleep=LOCK_POLL_S)
        try:
            lock.acquire()
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        try:
            yield
        finally:
            try:
                lock.release()
            except LockError:  # held longer than expire_s: another holder may have it now
                log.warning("lock %s expired before its holder released it", key)
            except redis.RedisError as exc:
                log.warning("lock %s not released: %s", key, type(exc).__name__)

    def clear(self) -> int:
        import redis

        removed = 0
        try:
            batch: list[bytes] = []
            for name in self._client.scan_iter(match=f"{self._prefix}*", count=CLEAR_BATCH):
                batch.append(name)
                if len(batch) >= CLEAR_BATCH:
                    removed += self._client.delete(*batch)
                    batch = []
            if batch:
                removed += self._client.delete(*batch)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        return removed


def redis_client(url: str) -> redis.Redis:
    """A client with a connection pool (redis-py opens new connections after a fork) and timeouts."""
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S, health_check_interval=30
    )
