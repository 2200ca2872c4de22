"""ArtifactStore contract: every backend (local folder, S3 through moto) passes the same suite."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from services.aws.s3_store import S3Store
from services.errors import NotFound, StorageError
from services.storage import TEMP_PREFIX, ArtifactStore, LocalFolderStore, StoredObject

StoreFactory = Callable[[Path], AbstractContextManager[ArtifactStore]]
S3_REGION = "us-east-1"


@contextlib.contextmanager
def _s3_store(tmp: Path) -> Iterator[ArtifactStore]:
    """An S3Store under a prefix of a bucket in moto (in this process only)."""
    with mock_aws():
        client = boto3.client("s3", region_name=S3_REGION)
        client.create_bucket(Bucket="contract-bucket")
        # Versioned, as MWAA requires (moto also keeps replaced objects then, which its
        # in-process backend needs to survive concurrent overwrites of one key).
        client.put_bucket_versioning(Bucket="contract-bucket", VersioningConfiguration={"Status": "Enabled"})
        yield S3Store(client, "contract-bucket", "root/")


# One entry per backend: a context manager giving a fresh, empty store.
BACKENDS: dict[str, StoreFactory] = {
    "local": lambda tmp: contextlib.nullcontext(LocalFolderStore(tmp / "store")),
    "s3": _s3_store,
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    with BACKENDS[request.param](tmp_path) as backend:
        yield backend


# ---- the contract (every backend) ------------------------------------------------------------


def test_put_then_get_and_head_agree(store: ArtifactStore) -> None:
    data = b"print('hello')\n"
    stored = store.put("dags/sweep_a.py", data)
    digest = hashlib.sha256(data).hexdigest()
    assert stored == StoredObject(key="dags/sweep_a.py", size=len(data), sha256=digest)
    assert store.get("dags/sweep_a.py") == data
    assert store.head("dags/sweep_a.py") == stored


def test_put_replaces_existing_content(store: ArtifactStore) -> None:
    store.put("a.txt", b"old content that is longer")
    stored = store.put("a.txt", b"new")
    assert store.get("a.txt") == b"new"
    assert store.head("a.txt") == stored
    assert stored.size == 3


def test_empty_object_round_trips(store: ArtifactStore) -> None:
    stored = store.put("empty", b"")
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.get("empty") == b""


def test_missing_key(store: ArtifactStore) -> None:
    with pytest.raises(NotFound) as info:
        store.get("nope/missing.py")
    assert "missing.py" in info.value.message
    assert store.head("nope/missing.py") is None
    store.delete("nope/missing.py")  # deleting nothing is fine


def test_delete_removes_only_that_key(store: ArtifactStore) -> None:
    store.put("d/one.py", b"1")
    store.put("d/two.py", b"2")
    store.delete("d/one.py")
    assert store.head("d/one.py") is None
    assert store.list("d/") == ["d/two.py"]


def test_list_is_a_sorted_string_prefix_match(store: ArtifactStore) -> None:
    keys = ("dags/b.py", "dags/a.py", "dags/pkg/config.py", "dagsextra.py", "results/x.json")
    for key in keys:
        store.put(key, key.encode())
    assert store.list("dags/") == ["dags/a.py", "dags/b.py", "dags/pkg/config.py"]
    assert store.list("dags") == ["dags/a.py", "dags/b.py", "dags/pkg/config.py", "dagsextra.py"]
    assert store.list("dags/pkg/con") == ["dags/pkg/config.py"]
    assert store.list("nothing/") == []
    assert store.list() == sorted(keys)


def test_dot_files_are_ordinary_keys(store: ArtifactStore) -> None:
    store.put("pkg/.airflowignore", b"*\n")
    assert store.list("pkg/") == ["pkg/.airflowignore"]
    assert store.get("pkg/.airflowignore") == b"*\n"


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../up.py", "dags/../../up.py", "a//b", "./a", "a/./b", "a/", "a\\b", "a\x00b"],
)
def test_invalid_keys_are_refused(store: ArtifactStore, key: str) -> None:
    for call in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.head(key)):
        with pytest.raises(StorageError):
            call()
    with pytest.raises(StorageError):
        store.delete(key)


def test_invalid_list_prefix_is_refused(store: ArtifactStore) -> None:
    with pytest.raises(StorageError):
        store.list("../")


def test_describe_names_the_location(store: ArtifactStore) -> None:
    assert store.describe()


def test_concurrent_puts_of_one_key_leave_one_whole_version(store: ArtifactStore) -> None:
    versions = [bytes([n]) * 200_000 for n in range(8)]
    threads = [threading.Thread(target=store.put, args=("race.bin", data)) for data in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("race.bin") in versions
    assert store.list() == ["race.bin"]


# ---- local-folder specifics ----------------------------------------------------------------------


def test_local_writes_where_airflow_reads(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("dags/sweep.py", b"x = 1\n")
    path = tmp_path / "dags" / "sweep.py"
    assert path.read_bytes() == b"x = 1\n"
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert str(tmp_path) in store.describe()


def test_local_put_is_atomic_no_temp_files_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("dags/sweep.py", b"old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError) as info:
        store.put("dags/sweep.py", b"new")
    assert "No space left" in info.value.message
    assert (tmp_path / "dags" / "sweep.py").read_bytes() == b"old"
    assert [p.name for p in (tmp_path / "dags").iterdir()] == ["sweep.py"]


def test_local_temp_files_are_hidden_and_reserved(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    (tmp_path / f"{TEMP_PREFIX}abc.tmp").write_bytes(b"partial")
    assert store.list() == []
    with pytest.raises(StorageError):
        store.put(f"{TEMP_PREFIX}abc.tmp", b"x")


def test_local_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    store = LocalFolderStore(root)
    with pytest.raises(StorageError):
        store.get("link/secret.txt")
    with pytest.raises(StorageError):
        store.put("link/new.txt", b"x")


def test_local_key_that_is_a_folder(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("pkg/mod.py", b"x")
    with pytest.raises(StorageError):
        store.put("pkg", b"x")
    with pytest.raises(NotFound):
        store.get("pkg")
    assert store.head("pkg") is None


def test_local_parent_is_a_file(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("file", b"x")
    with pytest.raises(StorageError):
        store.put("file/child", b"y")
    assert store.head("file/child") is None
