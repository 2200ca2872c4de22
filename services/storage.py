"""The artifact store port (DAG files, framework files, results) and its local-folder backend."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path, PurePosixPath
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from airflow_backtest_framework.results_backends import list_files, write_atomically
from services.errors import NotFound, StorageError

log = logging.getLogger(__name__)

# Partial writes are hidden dot-files without a .py suffix, so Airflow never parses them,
# and `list` never shows them.
TEMP_PREFIX = ".~artifact-"
READ_CHUNK_BYTES = 1 << 20
MAX_KEY_CHARS = 1024  # S3's limit on key length


class StoredObject(BaseModel):
    """What `put`/`head` report: the key, its size in bytes and the sha256 (hex) of its content."""

    model_config = ConfigDict(frozen=True)

    key: str
    size: int
    sha256: str


class ArtifactStore(Protocol):
    """Files addressed by relative POSIX keys (`dags/x.py`); the same semantics on a folder and on S3.

    `put` is atomic (readers see the old or the new content, never a part); `get` raises NotFound;
    `head` is None for a missing key; `list(prefix)` is a plain string-prefix match returning sorted
    keys; `delete` of a missing key is not an error; invalid keys raise StorageError.
    """

    def put(self, key: str, data: bytes) -> StoredObject: ...

    def get(self, key: str) -> bytes: ...

    def head(self, key: str) -> StoredObject | None: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def describe(self) -> str: ...


def validate_key(key: str) -> str:
    """The key if it is a clean relative POSIX path; StorageError otherwise (shared by every backend)."""
    if not isinstance(key, str) or not key:
        raise StorageError("an artifact key must be a non-empty string")
    if len(key) > MAX_KEY_CHARS:
        raise StorageError(f"artifact key longer than {MAX_KEY_CHARS} characters")
    if "\\" in key or "\x00" in key:
        raise StorageError(f"artifact key {key!r} must use '/' and hold no NUL characters")
    if key.startswith("/") or PurePosixPath(key).is_absolute():
        raise StorageError(f"artifact key {key!r} must be relative, not absolute")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise StorageError(f"artifact key {key!r} must not contain empty, '.' or '..' parts")
    if parts[-1].startswith(TEMP_PREFIX):
        raise StorageError(f"artifact key {key!r} uses the reserved prefix {TEMP_PREFIX!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """A list prefix: empty, or a key-like string that may end with '/'."""
    if prefix:
        validate_key(prefix.removesuffix("/") if prefix.endswith("/") else prefix)
    return prefix


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalFolderStore:
    """`ArtifactStore` in a local folder (the local Airflow's dags folder, or the results folder).

    Writes go to a hidden temp file in the target's folder, are fsynced, then `os.replace`d over
    the target (`write_atomically`, shared with the framework's results store), so the DAG
    processor never parses half a file.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalFolderStore({str(self.root)!r})"

    def describe(self) -> str:
        return f"folder {self.root}"

    def _path(self, key: str) -> Path:
        validate_key(key)
        root = self.root.resolve()
        path = (root / key).resolve()
        if path != root and root not in path.parents:  # a symlink inside the store pointing out of it
            raise StorageError(f"artifact key {key!r} leads outside {self.root}")
        return path

    def put(self, key: str, data: bytes) -> StoredObject:
        """Write `data` at `key` atomically (the framework's `write_atomically`), creating folders."""
        path = self._path(key)
        if path.is_dir():
            raise StorageError(f"cannot write {key}: a folder of that name exists in {self.root}")
        try:
            write_atomically(path, data, temp_prefix=TEMP_PREFIX)
        except OSError as exc:
            raise StorageError(f"cannot write {key} in {self.root}: {exc.strerror or exc}") from None
        log.debug("wrote %s (%d bytes) to %s", key, len(data), self.root)
        return StoredObject(key=key, size=len(data), sha256=sha256_hex(data))

    def get(self, key: str) -> bytes:
        """The content at `key`; NotFound if there is no such file."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no {key} in {self.describe()}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key} in {self.root}: {exc.strerror or exc}") from None

    def head(self, key: str) -> StoredObject | None:
        """Size and sha256 of the content at `key`, or None when it does not exist."""
        path = self._path(key)
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as file:
                while chunk := file.read(READ_CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {key} in {self.root}: {exc.strerror or exc}") from None
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with `prefix` (a string prefix, as on S3); temp files are never listed."""
        validate_prefix(prefix)
        return list_files(self.root.resolve(), prefix, temp_prefix=TEMP_PREFIX)

    def delete(self, key: str) -> None:
        """Remove the file at `key`; a missing key is not an error (as on S3)."""
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            raise StorageError(f"cannot delete {key}: it is a folder in {self.root}") from None
        except OSError as exc:
            raise StorageError(f"cannot delete {key} in {self.root}: {exc.strerror or exc}") from None
        log.debug("deleted %s from %s", key, self.root)
