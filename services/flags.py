"""Short-lived flags every worker process and host sees (a deploy cancelled from another page load)."""

from __future__ import annotations

from services.shared_cache import SharedCache

FLAG_TTL_S = 3600


class SharedFlags:
    """Flags in the shared cache (a diskcache folder the workers share, or Redis every host shares)."""

    def __init__(self, cache: SharedCache, ttl_s: float = FLAG_TTL_S) -> None:
        self._cache = cache
        self._ttl_s = ttl_s

    def set(self, key: str) -> None:
        self._cache.set(key, True, expire=self._ttl_s)

    def has(self, key: str) -> bool:
        return bool(self._cache.get(key, False))
