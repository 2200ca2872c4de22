"""Where result files live: a local folder (atomic, durable writes) or S3, behind one small protocol."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from airflow_backtest_framework.results_uri import ResultsLocation, parse_results_uri

# Partial writes are hidden temp files in the target's folder; listings never show them.
TEMP_PREFIX = ".~result-"
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o644  # mkstemp makes 0600 files; results are read by other processes (the app, Airflow)
S3_LIST_PAGE_SIZE = 1000
S3_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
PARQUET_TYPE = "application/vnd.apache.parquet"
CONTENT_TYPES = {".json": "application/json", ".csv": "text/csv", ".parquet": PARQUET_TYPE}
DEFAULT_CONTENT_TYPE = "application/octet-stream"

S3ClientFactory = Callable[[], Any]


class ResultsStoreError(OSError):
    """A result that cannot be read or written; the message names the location."""


class ResultNotFound(ResultsStoreError):
    """No result at that key."""


class ResultsBackend(Protocol):
    """What the store needs of a storage technology (the app's ArtifactStore fits it too).

    Keys are relative '/'-separated paths; `list(prefix)` is a string-prefix match returning sorted keys.
    """

    def put(self, key: str, data: bytes) -> object: ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def describe(self) -> str: ...


def check_key(key: str) -> str:
    """The key if it is a clean relative POSIX path inside the root; ResultsStoreError otherwise."""
    parts = key.split("/")
    if not key or "\\" in key or "\x00" in key or PurePosixPath(key).is_absolute():
        raise ResultsStoreError(f"result key {key!r} must be a relative '/'-separated path")
    if any(part in ("", ".", "..") for part in parts) or parts[-1].startswith(TEMP_PREFIX):
        raise ResultsStoreError(f"result key {key!r} must not hold empty, '.', '..' or temp-file parts")
    return key


def list_files(root: Path, prefix: str = "", temp_prefix: str = TEMP_PREFIX) -> list[str]:
    """Sorted '/'-separated paths under `root` starting with `prefix`, temp files left out.

    Only the deepest folder the prefix names is walked, then the full string prefix filters (as on S3).
    """
    folder = prefix.rpartition("/")[0]
    start = root / folder if folder else root
    if not start.is_dir():
        return []
    keys = []
    for current, dirs, files in os.walk(start):
        dirs.sort()
        relative = Path(current).relative_to(root).as_posix()  # once per folder: 10^4 files are common
        base = "" if relative == "." else f"{relative}/"
        keys += [
            f"{base}{name}"
            for name in files
            if not name.startswith(temp_prefix) and f"{base}{name}".startswith(prefix)
        ]
    return sorted(keys)


def write_atomically(path: Path, data: bytes, temp_prefix: str = TEMP_PREFIX, durable: bool = True) -> None:
    """Write `data` at `path` so readers see the old or the new content, never a part.

    A temp file in the same folder is written, fsynced and `os.replace`d over the target (then the
    folder is fsynced, where the filesystem allows it); the temp file is removed on any failure.
    `durable=False` skips both fsyncs (still atomic for readers; a machine crash may lose the file).
    Raises OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=temp_prefix, suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            if durable:
                os.fsync(file.fileno())
            os.fchmod(file.fileno(), FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if durable:
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; not every filesystem allows fsync on a folder."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalFolderBackend:
    """Results in a local folder; every file appears complete or not at all (`write_atomically`)."""

    def __init__(self, root: Path | str, durable: bool = True) -> None:
        self.root = Path(root)
        self.durable = durable  # False: no fsync per file (the engine's many small result files)

    def __repr__(self) -> str:
        return f"LocalFolderBackend({str(self.root)!r})"

    def describe(self) -> str:
        return str(self.root)

    def prepare(self, prefix: str) -> None:
        """Create the folder of `prefix` now, so an unusable root is reported before any work."""
        folder = self.root / check_key(prefix.rstrip("/"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsStoreError(f"cannot create {folder}: {exc.strerror or exc}") from None

    def put(self, key: str, data: bytes) -> None:
        path = self.root / check_key(key)
        try:
            write_atomically(path, data, durable=self.durable)
        except OSError as exc:
            raise ResultsStoreError(f"cannot write {path}: {exc.strerror or exc}") from None

    def get(self, key: str) -> bytes:
        path = self.root / check_key(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ResultNotFound(f"no result at {path}") from None
        except OSError as exc:
            raise ResultsStoreError(f"cannot read {path}: {exc.strerror or exc}") from None

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with `prefix`; only the deepest folder the prefix names is walked."""
        folder = prefix.rpartition("/")[0]
        if folder:
            check_key(folder)
        return list_files(self.root, prefix)


def default_s3_client() -> Any:
    """A boto3 S3 client from the environment (AWS_ENDPOINT_URL, AWS_PROFILE, instance role ...)."""
    import boto3  # the framework stays importable where only the local backend is used

    return boto3.client("s3")


def _boto_errors() -> tuple[type[BaseException], ...]:
    """botocore's exception bases, imported only when an S3 call has raised (botocore is there then)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _s3_failure(exc: BaseException, action: str, where: str) -> ResultsStoreError:
    """The store's error for a botocore error: ResultNotFound for a missing key, else the AWS code
    and message (never the request metadata)."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return ResultsStoreError(f"cannot {action} {where}: {exc}")
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    if code in S3_NOT_FOUND_CODES:
        return ResultNotFound(f"no result at {where}")
    message = str(error.get("Message") or "").strip() or "no details"
    return ResultsStoreError(f"cannot {action} {where}: {code or 'Error'}: {message}")


class S3Backend:
    """Results under `s3://bucket/prefix`: PutObject, GetObject and ListObjectsV2.

    The boto3 client is handed in (`client`) or made on first use by `client_factory`, so nothing
    is built at import time and boto3 is needed only when S3 is used.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        client_factory: S3ClientFactory = default_s3_client,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client
        self._client_factory = client_factory

    def __repr__(self) -> str:
        return f"S3Backend({self.describe()!r})"

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def prepare(self, prefix: str) -> None:
        """Nothing to create on S3: a missing bucket shows up on the first write."""
        check_key(prefix.rstrip("/"))

    def _s3(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        full = self._full(check_key(key))
        content_type = CONTENT_TYPES.get(PurePosixPath(key).suffix, DEFAULT_CONTENT_TYPE)
        try:
            self._s3().put_object(Bucket=self.bucket, Key=full, Body=data, ContentType=content_type)
        except _boto_errors() as exc:
            raise _s3_failure(exc, "write", f"s3://{self.bucket}/{full}") from None

    def get(self, key: str) -> bytes:
        full = self._full(check_key(key))
        try:
            return self._s3().get_object(Bucket=self.bucket, Key=full)["Body"].read()
        except _boto_errors() as exc:
            raise _s3_failure(exc, "read", f"s3://{self.bucket}/{full}") from None

    def list(self, prefix: str = "") -> list[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        try:
            pages = (
                self._s3()
                .get_paginator("list_objects_v2")
                .paginate(
                    Bucket=self.bucket, Prefix=root + prefix, PaginationConfig={"PageSize": S3_LIST_PAGE_SIZE}
                )
            )
            for page in pages:
                keys.extend(item["Key"][len(root) :] for item in page.get("Contents", ()))
        except _boto_errors() as exc:
            raise _s3_failure(exc, "list", f"s3://{self.bucket}/{root}{prefix}") from None
        return sorted(key for key in keys if key)


def open_backend(
    location: ResultsLocation | str,
    *,
    s3_client_factory: S3ClientFactory = default_s3_client,
    durable: bool = True,
) -> LocalFolderBackend | S3Backend:
    """The backend of a results root (a URI is parsed with `parse_results_uri`; ValueError if invalid);
    `durable=False`: local files are not fsynced one by one."""
    if isinstance(location, str):
        location = parse_results_uri(location)
    if location.kind == "s3":
        return S3Backend(location.bucket, location.prefix, client_factory=s3_client_factory)
    return LocalFolderBackend(location.path, durable=durable)


def read_object(uri: str, *, s3_client_factory: S3ClientFactory = default_s3_client) -> bytes:
    """The content of one object given by its full URI (a file, file:// URL or s3://bucket/key)."""
    parent, name = parse_results_uri(uri).split_last()
    if not name:
        raise ResultsStoreError(f"{uri} names a folder or bucket, not an object (e.g. .../spec.json)")
    return open_backend(parent, s3_client_factory=s3_client_factory).get(name)
