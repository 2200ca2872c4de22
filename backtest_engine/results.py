"""Where results go: a local folder (atomic writes) or an S3 prefix (put_object), behind one small port."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

S3_SCHEME = "s3"
FILE_SCHEME = "file"
JSON_CONTENT_TYPE = "application/json"
RESULT_FILE_MODE = 0o644  # mkstemp makes 0600 files; results are read by other processes (the app)

S3ClientFactory = Callable[[], Any]


class StorageError(OSError):
    """A result or spec that cannot be read or written; the message names the location."""


class ResultStore(Protocol):
    """Writes small JSON documents under a results root."""

    def put_json(self, key: str, document: object) -> None:
        """Store `document` at `key` (a '/'-separated path relative to the root)."""

    def describe(self, key: str) -> str:
        """The full location of `key`, for messages."""


def point_key(dag_id: str, run_id: str, index: int) -> str:
    """Relative key of a point's result: `<dag_id>/<run_id>/points/<index>.json`."""
    return f"{dag_id}/{run_id}/points/{index}.json"


def equity_key(dag_id: str, run_id: str, index: int) -> str:
    """Relative key of a point's equity curve: `<dag_id>/<run_id>/equity/<index>.json`."""
    return f"{dag_id}/{run_id}/equity/{index}.json"


def encode(document: object) -> bytes:
    """Compact JSON; NaN and infinities are refused so every reader can parse the file."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def is_s3(uri: str) -> bool:
    return urlparse(uri).scheme == S3_SCHEME


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    parsed = urlparse(uri)
    if parsed.scheme != S3_SCHEME or not parsed.netloc:
        raise ValueError(f"'{uri}' is not an s3://bucket/prefix address")
    return parsed.netloc, parsed.path.strip("/")


def local_path(uri: str) -> Path:
    """A plain path or a file:// URL as a Path."""
    parsed = urlparse(uri)
    if parsed.scheme == FILE_SCHEME:
        return Path(unquote(parsed.path))
    return Path(uri)


class LocalFolderStore:
    """Results under a local folder; each file appears complete or not at all (temp file + os.replace)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def prepare(self, key_prefix: str) -> None:
        """Create the run's folder now, so an unusable root is reported before any work."""
        try:
            (self.root / key_prefix).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {self.root / key_prefix}: {exc.strerror or exc}") from exc

    def put_json(self, key: str, document: object) -> None:
        target = self.root / key
        payload = encode(document)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                os.fchmod(handle, RESULT_FILE_MODE)
                with os.fdopen(handle, "wb") as stream:
                    stream.write(payload)
                os.replace(temp_name, target)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from exc


class S3Store:
    """Results under an S3 prefix, written with `put_object` (one request per document)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def prepare(self, key_prefix: str) -> None:
        """Nothing to create on S3: a missing bucket shows up on the first write."""

    def put_json(self, key: str, document: object) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=encode(document), ContentType=JSON_CONTENT_TYPE
            )
        except ClientError as exc:
            raise StorageError(f"cannot write {self.describe(key)}: {_client_error(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot write {self.describe(key)}: {exc}") from exc


def open_store(uri: str, s3_client: S3ClientFactory) -> LocalFolderStore | S3Store:
    """The store of a results root: `s3://bucket/prefix`, a `file://` URL or a local path."""
    if is_s3(uri):
        bucket, prefix = split_s3(uri)
        return S3Store(s3_client(), bucket, prefix)
    return LocalFolderStore(local_path(uri))


def read_text(uri: str, s3_client: S3ClientFactory) -> str:
    """The text of a local file, file:// URL or s3://bucket/key object (S3 `get_object`)."""
    if is_s3(uri):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3(uri)
        if not key:
            raise StorageError(f"{uri} names a bucket but no object; use s3://bucket/path/spec.json")
        try:
            body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise StorageError(f"cannot read {uri}: {_client_error(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {uri}: {exc}") from exc
    else:
        path = local_path(uri)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StorageError(f"{uri} is not UTF-8 text") from exc


def _client_error(exc: Any) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '').strip() or 'no details'}"
