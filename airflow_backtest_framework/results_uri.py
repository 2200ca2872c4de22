"""The one parser of results-root URIs: a local path, `file:///path` or `s3://bucket/prefix`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

S3_SCHEME = "s3"
FILE_SCHEME = "file"
URI_HINT = "use a folder, a file:// URL or s3://bucket/prefix"


@dataclass(frozen=True)
class ResultsLocation:
    """A parsed results root: a local folder (`path`), or an S3 `bucket` and a key `prefix`
    without '/' at its ends."""

    kind: Literal["local", "s3"]
    path: str = ""
    bucket: str = ""
    prefix: str = ""

    def uri(self, key: str = "") -> str:
        """The location of `key` below this root, as the engine and the DAG pass it on."""
        if self.kind == "local":
            return str(Path(self.path, key)) if key else self.path
        return f"s3://{self.bucket}/" + "/".join(part for part in (self.prefix, key) if part)

    def split_last(self) -> tuple[ResultsLocation, str]:
        """(the parent root, the last name): how an object URI such as `.../spec.json` is read."""
        if self.kind == "local":
            path = Path(self.path)
            return ResultsLocation("local", path=str(path.parent)), path.name
        parent, _, name = self.prefix.rpartition("/")
        return ResultsLocation("s3", bucket=self.bucket, prefix=parent), name


def parse_results_uri(uri: str) -> ResultsLocation:
    """The one parser of result locations: a local path, `file:///path` or `s3://bucket/prefix`.

    Raises ValueError (naming the accepted forms) for an empty text, an s3:// URI without a bucket
    or another scheme.
    """
    text = uri.strip()
    if not text:
        raise ValueError(f"no results location given; {URI_HINT}")
    parts = urlsplit(text)
    if parts.scheme == S3_SCHEME:
        if not parts.netloc:
            raise ValueError(f"{uri!r} names no bucket; {URI_HINT}")
        return ResultsLocation("s3", bucket=parts.netloc, prefix=parts.path.strip("/"))
    if parts.scheme == FILE_SCHEME:
        return ResultsLocation("local", path=unquote(parts.path))
    if parts.scheme:
        raise ValueError(f"{uri!r}: unsupported scheme {parts.scheme}://; {URI_HINT}")
    return ResultsLocation("local", path=text)
