"""Faults for tests: a tiny disk to fill, a diskcache file overwritten with garbage, a new thread."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from services.records import no_space

TMPFS_BYTES = 64 * 1024
FILL_BLOCK = 4096
GARBAGE = b"this is not an SQLite database " * 200


@contextmanager
def small_disk(folder: Path, size: int = TMPFS_BYTES) -> Iterator[Path]:
    """A tmpfs of `size` bytes mounted on `folder` (needs root: the test is skipped elsewhere)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    if subprocess.run(mount, check=False, capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        # Lazily: a test's open SQLite files may still hold it; it goes once they are closed.
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def fill_disk(folder: Path) -> Path:
    """Write a file in `folder` until its disk is full; the file (delete it to free the space)."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * FILL_BLOCK):
            pass
    except OSError as exc:
        if not no_space(exc):
            raise
    finally:
        os.close(fd)
    return filler


def corrupt_cache(folder: Path) -> None:
    """Overwrite a diskcache's SQLite file (and drop its journal) as a disk fault would."""
    for name in ("cache.db-wal", "cache.db-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "cache.db").write_bytes(GARBAGE)


def in_new_thread(call):
    """`call()` from a thread that has no SQLite connection yet (as a new request's thread)."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def aside_folders(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f"{name}.corrupt-*"))
