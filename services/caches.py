"""Every diskcache the app opens: a corrupted one is moved aside and rebuilt, at start-up or later."""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import diskcache

from services.records import DiskFull, no_space

log = logging.getLogger(__name__)

ASIDE_STAMP = "%Y%m%dT%H%M%S%fZ"  # `<folder>.corrupt-20261203T104200123456Z`
ASIDE_INFIX = ".corrupt-"
# sqlite3's words for a file that is not (or no longer) a database; other DatabaseErrors (a lock, a
# full disk: OperationalError) are not corruption and must not throw a cache away.
CORRUPTION_WORDS = ("not a database", "malformed", "corrupt")
DISK_FULL_WORDS = ("disk is full", "disk full")


def is_corruption(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    text = str(exc).lower()
    return type(exc) is sqlite3.DatabaseError or any(word in text for word in CORRUPTION_WORDS)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in DISK_FULL_WORDS)


@contextmanager
def _rebuild_lock(folder: Path) -> Iterator[None]:
    """One process at a time moves a cache aside (the others then find the rebuilt one)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.rebuild.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def move_aside(folder: Path) -> Path:
    """Rename a broken cache folder to `<folder>.corrupt-<UTC time>` (kept for a post-mortem)."""
    aside = folder.with_name(f"{folder.name}{ASIDE_INFIX}{datetime.now(UTC).strftime(ASIDE_STAMP)}")
    folder.rename(aside)
    return aside


def open_cache(folder: Path, **settings: Any) -> diskcache.Cache:
    """A diskcache.Cache at `folder`; one that will not open because its SQLite file is damaged is
    moved aside (see `move_aside`) and a new, empty one is built in its place, with a log line.
    For Dash's DiskcacheManager, which needs a diskcache.Cache; services use `RecoveringCache`."""
    try:
        return diskcache.Cache(str(folder), **settings)
    except sqlite3.DatabaseError as exc:
        if is_disk_full(exc):
            raise _disk_full(folder) from None
        if not is_corruption(exc):
            raise
        return _reopen_or_rebuild(folder, settings, exc)


def _disk_full(folder: Path) -> DiskFull:
    return DiskFull(f"The disk holding {folder} is full: free space on it.")


def _reopen_or_rebuild(folder: Path, settings: dict[str, Any], cause: BaseException) -> diskcache.Cache:
    """The cache at `folder` opened again (another process may have rebuilt it while we waited for
    the lock), else moved aside and built anew; opening touches the file from this thread."""
    with _rebuild_lock(folder):
        try:
            cache = diskcache.Cache(str(folder), **settings)
            log.warning("cache %s was rebuilt by another process; reopened", folder)
            return cache
        except sqlite3.DatabaseError as again:
            if not is_corruption(again):
                raise
        aside = move_aside(folder)
        log.warning("cache %s is damaged (%s): moved to %s and rebuilt empty", folder, cause, aside)
        return diskcache.Cache(str(folder), **settings)


class RecoveringCache:
    """A diskcache.Cache (same calls) that survives its file being damaged while the app runs.

    diskcache opens one SQLite connection per thread, so a damaged file shows when a new thread
    first touches the cache: that call moves the folder aside, opens a new cache and is retried once.
    A cache holds only what can be fetched again (statuses, boards, flags): losing it costs a poll.
    A full disk raises DiskFull, whose message says so in words.
    """

    def __init__(self, folder: Path, **settings: Any) -> None:
        self.folder = folder
        self._settings = settings
        self._lock = threading.Lock()
        self._cache = open_cache(folder, **settings)
        self.rebuilt_at: datetime | None = None  # when this process last rebuilt it

    @property
    def directory(self) -> str:
        return self._cache.directory

    def _rebuild(self, broken: diskcache.Cache, exc: BaseException) -> None:
        with self._lock:
            if self._cache is not broken:  # another thread rebuilt it already
                return
            self._cache = _reopen_or_rebuild(self.folder, self._settings, exc)
            self.rebuilt_at = datetime.now(UTC)

    def _call(self, method: Callable[[diskcache.Cache], Any]) -> Any:
        cache = self._cache
        try:
            return method(cache)
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                raise _disk_full(self.folder) from None
            if not is_corruption(exc):
                raise
            self._rebuild(cache, exc)
        except OSError as exc:  # a large value goes to a file of its own
            if no_space(exc):
                raise _disk_full(self.folder) from None
            raise
        return method(self._cache)

    def get(self, key: Any, default: Any = None, **kwargs: Any) -> Any:
        return self._call(lambda cache: cache.get(key, default, **kwargs))

    def set(self, key: Any, value: Any, **kwargs: Any) -> bool:
        return self._call(lambda cache: cache.set(key, value, **kwargs))

    def add(self, key: Any, value: Any, **kwargs: Any) -> bool:
        return self._call(lambda cache: cache.add(key, value, **kwargs))

    def delete(self, key: Any, **kwargs: Any) -> bool:
        return self._call(lambda cache: cache.delete(key, **kwargs))

    def pop(self, key: Any, default: Any = None, **kwargs: Any) -> Any:
        """Remove and return the value (atomic: one caller gets it), or `default`."""
        return self._call(lambda cache: cache.pop(key, default, **kwargs))

    def touch(self, key: Any, **kwargs: Any) -> bool:
        return self._call(lambda cache: cache.touch(key, **kwargs))

    def incr(self, key: Any, delta: int = 1, default: int = 0, **kwargs: Any) -> int:
        return self._call(lambda cache: cache.incr(key, delta, default, **kwargs))

    def iterkeys(self, reverse: bool = False) -> list:
        return self._call(lambda cache: list(cache.iterkeys(reverse)))

    def clear(self, **kwargs: Any) -> int:
        return self._call(lambda cache: cache.clear(**kwargs))

    @contextmanager
    def transact(self, retry: bool = False) -> Iterator[None]:
        """diskcache's transaction; one that cannot begin on a damaged file begins on the rebuilt one."""
        cache = self._cache
        try:
            context = cache.transact(retry)
            context.__enter__()
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            self._rebuild(cache, exc)
            cache = self._cache
            context = cache.transact(retry)
            context.__enter__()
        try:
            yield
        except BaseException as exc:
            if not context.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            context.__exit__(None, None, None)

    def close(self) -> None:
        self._cache.close()
