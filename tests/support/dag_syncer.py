"""MWAA's DAG sync, for tests: mirror an S3 `dags/` prefix into a local Airflow's dags folder.

Every `interval_s` it lists the prefix, downloads the objects whose ETag changed (nested files —
the framework package — before top-level DAG files, as the app uploads them), writes each one
atomically, and deletes the local copies of objects that were removed from the bucket.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SYNC_INTERVAL_S = 1.0


def write_atomically(path: Path, content: bytes) -> None:
    """A dot-named temp file renamed into place: the DAG processor never parses half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@dataclass
class S3DagSyncer:
    """`with S3DagSyncer(s3_client, bucket, "dags/", folder):` syncs in a background thread."""

    s3: Any
    bucket: str
    prefix: str
    folder: Path
    interval_s: float = SYNC_INTERVAL_S
    synced: dict[str, str] = field(default_factory=dict, init=False)  # key below the prefix -> ETag written
    errors: list[str] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def sync_once(self) -> list[str]:
        """One pass; the keys written or deleted."""
        listed: dict[str, str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if key and not key.endswith("/"):
                    listed[key] = item["ETag"]
        changed = [key for key, etag in listed.items() if self.synced.get(key) != etag]
        # The framework (nested) before the DAG files that import it.
        for key in sorted(changed, key=lambda k: ("/" not in k, k)):
            body = self.s3.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
            write_atomically(self.folder / key, body)
            self.synced[key] = listed[key]
        removed = [key for key in self.synced if key not in listed]
        for key in removed:
            (self.folder / key).unlink(missing_ok=True)
            del self.synced[key]
        if changed or removed:
            log.info("dag sync: wrote %s, deleted %s", changed, removed)
        return changed + removed

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sync_once()
            except Exception as exc:  # keep syncing: the bucket may be briefly unreachable
                self.errors.append(f"{type(exc).__name__}: {exc}")
                log.warning("dag sync failed: %s", exc)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name="dag-syncer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> S3DagSyncer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
