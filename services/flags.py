"""Short-lived flags every worker process sees (a deploy cancelled from another page load)."""

from __future__ import annotations

import diskcache

FLAG_TTL_S = 3600


class SharedFlags:
    """Flags in a diskcache folder shared by the workers (diskcache reopens its connection after a fork)."""

    def __init__(self, cache: diskcache.Cache, ttl_s: float = FLAG_TTL_S) -> None:
        self._cache = cache
        self._ttl_s = ttl_s

    def set(self, key: str) -> None:
        self._cache.set(key, True, expire=self._ttl_s)

    def has(self, key: str) -> bool:
        return bool(self._cache.get(key, False))
