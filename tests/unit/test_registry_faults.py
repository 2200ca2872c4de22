"""Records that survive faults: a truncated file, concurrent saves of one sweep, a full disk."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from services.errors import NotFound
from services.models import NEW_SWEEP
from services.records import DamagedRecordError, DiskFull, SaveConflict
from services.registry import SweepRegistry
from tests.support.faults import fill_disk, small_disk
from tests.support.sweeps import small_sweep

ROOT = Path(__file__).resolve().parents[2]
SAVERS = 8  # sessions saving one sweep at the same moment


def record_file(folder: Path, name: str) -> Path:
    return folder / "sweeps" / f"{name}.json"


def leftovers(folder: Path) -> list[str]:
    """Files in the records folder that are neither records, previous versions nor the lock."""
    return [
        p.name
        for p in (folder / "sweeps").iterdir()
        if not (p.name.endswith(".json") or p.name.endswith(".json.prev") or p.name == ".lock")
    ]


# ---------------------------------------------------------------------------- a damaged record


def test_a_truncated_record_is_listed_as_damaged_and_can_be_restored(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    registry.save(small_sweep(name="mr_a", description="first"))
    registry.save(small_sweep(name="mr_a", description="second"))
    registry.save(small_sweep(name="other"))
    path = record_file(tmp_path, "mr_a")
    path.write_bytes(path.read_bytes()[:40])  # a crash mid-write on a filesystem without atomic renames

    assert [r.name for r in registry.list()] == ["other"]
    [broken] = registry.damaged()
    assert broken.name == "mr_a" and broken.has_previous and broken.error
    with pytest.raises(DamagedRecordError, match=r"mr_a is damaged.*restore its previous version or delete"):
        registry.get("mr_a")
    with pytest.raises(DamagedRecordError, match="then its name can be saved again"):
        registry.save(small_sweep(name="mr_a", description="third"))

    restored = registry.restore_previous("mr_a")
    assert restored.config.description == "first"  # the version before the damaged one
    assert registry.get("mr_a").config.description == "first" and registry.damaged() == []
    saved = registry.save(small_sweep(name="mr_a", description="third"), expected_version=restored.version)
    assert saved.version == restored.version + 1


def test_a_damaged_record_without_a_previous_version_can_be_deleted_and_its_name_saved(
    tmp_path: Path,
) -> None:
    registry = SweepRegistry(tmp_path)
    record_file(tmp_path, "mr_b").parent.mkdir(parents=True)
    record_file(tmp_path, "mr_b").write_text('{"config": {"name": "mr_b"')
    [broken] = registry.damaged()
    assert not broken.has_previous
    with pytest.raises(NotFound, match="no previous version"):
        registry.restore_previous("mr_b")
    registry.delete("mr_b")
    assert registry.damaged() == []
    assert registry.save(small_sweep(name="mr_b"), expected_version=NEW_SWEEP).version == 1


def test_a_record_written_before_versions_reads_as_version_1(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    registry.save(small_sweep(name="old"))
    path = record_file(tmp_path, "old")
    path.write_text(path.read_text().replace('"version": 1,', ""))
    assert '"version"' not in path.read_text()
    assert registry.get("old").version == 1
    assert registry.save(small_sweep(name="old"), expected_version=1).version == 2


# ---------------------------------------------------------------------------- versions


def test_a_save_from_an_older_version_is_refused_with_who_and_when(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    opened = registry.save(small_sweep(name="mr_a"), by="bob")
    registry.save(
        small_sweep(name="mr_a", description="alice's"), expected_version=opened.version, by="alice"
    )
    with pytest.raises(SaveConflict, match=r"mr_a was changed by alice at \d\d:\d\d since you opened it"):
        registry.save(
            small_sweep(name="mr_a", description="bob's"), expected_version=opened.version, by="bob"
        )
    assert registry.get("mr_a").config.description == "alice's"


def test_a_new_sweep_cannot_overwrite_one_of_the_same_name(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    registry.save(small_sweep(name="mr_a", owner="alice"), expected_version=NEW_SWEEP)
    with pytest.raises(SaveConflict, match=r"A sweep named mr_a already exists \(saved by alice"):
        registry.save(small_sweep(name="mr_a", description="mine"), expected_version=NEW_SWEEP)
    assert registry.get("mr_a").config.description != "mine"


def test_deploys_and_runs_keep_the_version_a_form_edits(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    saved = registry.save(small_sweep(name="mr_a"))
    registry.record_deploy("mr_a", saved.config.spec_hash)
    registry.record_run("mr_a", "manual__1")
    again = registry.save(small_sweep(name="mr_a", description="edited"), expected_version=saved.version)
    assert again.version == saved.version + 1 and again.run_ids == ["manual__1"]


def _save_once(folder: str, version: int, tag: str, start: threading.Barrier | None = None) -> str:
    if start is not None:
        start.wait()
    try:
        SweepRegistry(Path(folder)).save(small_sweep(name="race", description=tag), expected_version=version)
    except SaveConflict as exc:
        return f"refused: {exc.message}"
    return f"saved {tag}"


def test_concurrent_saves_in_threads_give_one_success(tmp_path: Path) -> None:
    version = SweepRegistry(tmp_path).save(small_sweep(name="race")).version
    start = threading.Barrier(SAVERS)
    outcomes: list[str] = []
    threads = [
        threading.Thread(
            target=lambda i=i: outcomes.append(_save_once(str(tmp_path), version, f"t{i}", start))
        )
        for i in range(SAVERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = [o for o in outcomes if o.startswith("saved")]
    assert len(saved) == 1 and len(outcomes) == SAVERS
    assert all("since you opened it" in o for o in outcomes if o.startswith("refused"))
    record = SweepRegistry(tmp_path).get("race")
    assert saved == [f"saved {record.config.description}"] and record.version == version + 1


def test_concurrent_saves_in_processes_give_one_success(tmp_path: Path) -> None:
    version = SweepRegistry(tmp_path).save(small_sweep(name="race")).version
    with multiprocessing.get_context("fork").Pool(SAVERS) as pool:
        outcomes = pool.starmap(_save_once, [(str(tmp_path), version, f"p{i}") for i in range(SAVERS)])
    saved = [o for o in outcomes if o.startswith("saved")]
    assert len(saved) == 1, outcomes
    assert sum(o.startswith("refused") for o in outcomes) == SAVERS - 1
    assert SweepRegistry(tmp_path).get("race").version == version + 1
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- a full disk

_FSIZE_CHILD = """
import resource, signal, sys
from pathlib import Path
from services.records import DiskFull
from services.registry import SweepRegistry
from tests.support.sweeps import small_sweep
folder, limit = Path(sys.argv[1]), int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
registry = SweepRegistry(folder)
try:
    registry.save(small_sweep(name="mr_a", description="x" * 2000), expected_version=1)
except DiskFull as exc:
    print(exc.message)
"""


def test_a_file_size_limit_saves_nothing_and_says_the_disk_is_full(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    registry.save(small_sweep(name="mr_a", description="kept"))
    before = record_file(tmp_path, "mr_a").read_bytes()
    limit = len(before) + 100  # room for the old record, not for the new one
    child = subprocess.run(
        [sys.executable, "-c", _FSIZE_CHILD, str(tmp_path), str(limit)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"The disk holding {tmp_path / 'sweeps'} is full: nothing was saved" in child.stdout
    assert record_file(tmp_path, "mr_a").read_bytes() == before
    assert registry.get("mr_a").config.description == "kept"
    assert leftovers(tmp_path) == []


def test_a_full_disk_saves_nothing_and_keeps_the_saved_record(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        _full_disk_save(disk)


def _full_disk_save(small_disk: Path) -> None:
    registry = SweepRegistry(small_disk)
    registry.save(small_sweep(name="mr_a", description="kept"))
    before = record_file(small_disk, "mr_a").read_bytes()
    filler = fill_disk(small_disk)
    with pytest.raises(
        DiskFull, match=f"The disk holding {small_disk / 'sweeps'} is full: nothing was saved"
    ):
        registry.save(small_sweep(name="mr_a", description="y" * 2000), expected_version=1)
    assert record_file(small_disk, "mr_a").read_bytes() == before
    assert leftovers(small_disk) == []
    filler.unlink()
    assert registry.save(small_sweep(name="mr_a", description="y" * 2000), expected_version=1).version == 2


def test_a_full_disk_before_the_first_save_says_so_too(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        fill_disk(disk)
        with pytest.raises(DiskFull, match=f"The disk holding {disk / 'sweeps'} is full"):
            SweepRegistry(disk).save(small_sweep(name="first"), expected_version=NEW_SWEEP)
        assert SweepRegistry(disk).list() == []


def test_names_are_every_saved_name_readable_or_damaged(tmp_path: Path) -> None:
    registry = SweepRegistry(tmp_path)
    assert registry.names() == set()
    registry.save(small_sweep(name="good"))
    registry.save(small_sweep(name="bad"))
    record_file(tmp_path, "bad").write_text("{")
    assert registry.names() == {"good", "bad"}
