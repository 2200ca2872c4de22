"""S3Store: the ArtifactStore port on an S3 bucket and prefix, with checksummed uploads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_backtest_framework.results_uri import parse_results_uri
from services.aws.clients import ClientSource, resolve_client
from services.aws.errors import error_code, map_aws_error
from services.errors import AuthError, BacktestError, NotFound, StorageError, Unavailable
from services.storage import StoredObject, validate_key, validate_prefix

log = logging.getLogger(__name__)

SHA256_METADATA = "sha256"  # user metadata (x-amz-meta-sha256): the hex digest, so head needs no download
LIST_PAGE_SIZE = 1000
INTEGRITY_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket"})
# With these server-side encryptions the ETag is not the MD5 of the content.
_ETAG_NOT_MD5 = frozenset({"aws:kms", "aws:kms:dsse"})
_PLAIN_ETAG = re.compile(r"^[0-9a-f]{32}$")
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _hex_of_b64(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


class S3Store:
    """`ArtifactStore` on `s3://bucket/prefix` (an MWAA DAGs folder, or the results location).

    `put` sends the SHA-256 of the content (`ChecksumAlgorithm="SHA256"` with `ChecksumSHA256`),
    so S3 refuses a body damaged in transit, and checks what S3 reports back (checksum, and the
    ETag when it is an MD5); the hex digest also goes into the object's metadata so `head` can
    report it without a download. Wraps PutObject, GetObject, HeadObject, ListObjectsV2 and
    DeleteObject; errors become NotFound / AuthError (naming the missing permission) /
    Unavailable / StorageError.
    """

    def __init__(self, client: ClientSource, bucket: str, prefix: str = "") -> None:
        self._client_source = client
        self.bucket = bucket
        prefix = prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        if self.prefix:
            validate_prefix(self.prefix)

    @classmethod
    def from_uri(cls, client: ClientSource, uri: str) -> S3Store:
        """The store of `s3://bucket/prefix`, parsed by the framework's results-URI parser;
        ValueError for anything else."""
        location = parse_results_uri(uri)
        if location.kind != "s3":
            raise ValueError(f"expected s3://bucket/prefix, got {uri!r}")
        return cls(client, location.bucket, location.prefix)

    def __repr__(self) -> str:
        return f"S3Store({self.describe()!r})"

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def _client(self) -> Any:
        return resolve_client(self._client_source)

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _error(self, exc: ClientError | BotoCoreError, operation: str, key: str = "") -> BacktestError:
        where = f"s3://{self.bucket}/{self.prefix}{key}"
        if isinstance(exc, ClientError):
            code = error_code(exc)
            if code in MISSING_BUCKET_CODES:
                return StorageError(f"S3 bucket {self.bucket} does not exist (check the bucket setting)")
            if code in INTEGRITY_CODES:
                return StorageError(f"{where}: S3 refused the upload, the content's checksum did not match")
        resource = f"bucket {self.bucket}" if not key else f"{where}"
        error = map_aws_error(exc, f"S3 {operation} {where}", service="s3", resource=resource)
        if isinstance(error, AuthError | Unavailable | NotFound):
            return error
        return StorageError(error.message, status=error.status, detail=error.detail)

    # ---- ArtifactStore -------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> StoredObject:
        """Upload `data` (PutObject with its SHA-256), then verify what S3 stored."""
        full = self._full(key)
        digest = hashlib.sha256(data).hexdigest()
        try:
            response = self._client.put_object(
                Bucket=self.bucket,
                Key=full,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64_sha256(data),
                Metadata={SHA256_METADATA: digest},
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "PutObject", key) from None
        self._verify(key, data, digest, response)
        log.debug("uploaded %s (%d bytes) to s3://%s", full, len(data), self.bucket)
        return StoredObject(key=key, size=len(data), sha256=digest)

    def _verify(self, key: str, data: bytes, digest: str, response: dict[str, Any]) -> None:
        """Compare S3's answer to the content: ChecksumSHA256, and the ETag when it is an MD5."""
        checked = False
        reported = response.get("ChecksumSHA256")
        if reported:
            checked = True
            if _hex_of_b64(reported) != digest:
                raise StorageError(f"{self.describe()}{key}: S3 reports a different SHA-256 after upload")
        etag = str(response.get("ETag") or "").strip('"')
        if _PLAIN_ETAG.match(etag) and response.get("ServerSideEncryption") not in _ETAG_NOT_MD5:
            checked = True
            if etag != hashlib.md5(data, usedforsecurity=False).hexdigest():
                raise StorageError(f"{self.describe()}{key}: S3 reports a different MD5 (ETag) after upload")
        if not checked:  # a store that reports neither: read it back
            stored = self.get(key)
            if hashlib.sha256(stored).hexdigest() != digest:
                raise StorageError(f"{self.describe()}{key}: the object read back differs from the upload")

    def get(self, key: str) -> bytes:
        """The object's content (GetObject); NotFound when the key does not exist."""
        full = self._full(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=full)
            return response["Body"].read()
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                raise NotFound(f"no {key} in {self.describe()}") from None
            raise self._error(exc, "GetObject", key) from None
        except BotoCoreError as exc:
            raise self._error(exc, "GetObject", key) from None

    def head(self, key: str) -> StoredObject | None:
        """Size and SHA-256 from HeadObject (metadata, else the SHA-256 checksum, else a download);
        None when the key does not exist."""
        full = self._full(key)
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=full, ChecksumMode="ENABLED")
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, "HeadObject", key) from None
        except BotoCoreError as exc:
            raise self._error(exc, "HeadObject", key) from None
        size = int(response.get("ContentLength") or 0)
        digest = str((response.get("Metadata") or {}).get(SHA256_METADATA) or "").lower()
        if not _HEX_SHA256.match(digest):
            checksum = str(response.get("ChecksumSHA256") or "")
            # A multipart object's checksum is "<checksum of checksums>-<parts>", not the content's.
            digest = (_hex_of_b64(checksum) or "") if checksum and "-" not in checksum else ""
        if not _HEX_SHA256.match(digest):
            try:
                data = self.get(key)
            except NotFound:
                return None
            return StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())
        return StoredObject(key=key, size=size, sha256=digest)

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with `prefix` (ListObjectsV2, every page)."""
        validate_prefix(prefix)
        keys: list[str] = []
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            pages = paginator.paginate(
                Bucket=self.bucket,
                Prefix=self.prefix + prefix,
                PaginationConfig={"PageSize": LIST_PAGE_SIZE},
            )
            for page in pages:
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", ()))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "ListObjectsV2", prefix) from None
        return sorted(key for key in keys if key)

    def delete(self, key: str) -> None:
        """Remove the object (DeleteObject); a missing key is not an error."""
        full = self._full(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=full)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "DeleteObject", key) from None
        log.debug("deleted %s from s3://%s", full, self.bucket)
