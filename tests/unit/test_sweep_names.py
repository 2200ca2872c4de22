"""Sweep names are checked before they become paths: `../x` is refused by its text, whatever is on disk."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airflow_backtest_framework.names import NAME_HELP, SweepNameError, validate_sweep_name
from services.errors import BadRequest
from services.registry import SweepRegistry
from tests.support.sweeps import small_sweep

REFUSED = f"name: {NAME_HELP}"
# Audit events that read, write, list or remove a file (PEP 578); `open` covers pathlib's reads.
FILE_EVENTS = frozenset(
    {"open", "os.remove", "os.rename", "os.listdir", "os.scandir", "os.mkdir", "os.rmdir"}
)
_recorders: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if _recorders and event in FILE_EVENTS and args and isinstance(args[0], str | bytes | Path):
        _recorders[-1].append(str(args[0] if not isinstance(args[0], bytes) else args[0].decode()))


@pytest.fixture(scope="module")
def audit_hook() -> None:
    # An audit hook cannot be removed: it is added once per process and records only while a test asks.
    if not getattr(sys, "_sweep_names_audit", False):
        sys.addaudithook(_audit)
        sys._sweep_names_audit = True  # type: ignore[attr-defined]


@pytest.fixture
def files_touched(audit_hook: None) -> Iterator[list[str]]:
    """Every file path opened, listed or removed while the test runs."""
    touched: list[str] = []
    _recorders.append(touched)
    yield touched
    _recorders.remove(touched)


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("name", ["abc", "mr_spy_2024", "a" * 60])
def test_a_valid_name_is_returned_unchanged(name: str) -> None:
    assert validate_sweep_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "../../etc/passwd",
        "/etc/x",
        "a/b",
        "a\\b",
        "..",
        "abc\n",
        " abc",
        "ABC",
        "ab",
        "x.json",
        "",
        "ａbc",
    ],
)
def test_names_that_could_leave_a_folder_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(SweepNameError) as info:
        validate_sweep_name(name)
    assert str(info.value) == REFUSED
    assert isinstance(info.value, ValueError)


def test_a_long_or_non_text_name_is_refused_by_length_or_type_first() -> None:
    with pytest.raises(SweepNameError, match=r"^name: at most 60 characters \(got 1,000,000\)"):
        validate_sweep_name("a" * 1_000_000)
    with pytest.raises(SweepNameError, match=r"^name: must be text$"):
        validate_sweep_name(None)


# --------------------------------------------------------------------------- the registry


@pytest.fixture
def registry_and_victim(tmp_path: Path) -> tuple[SweepRegistry, Path]:
    """A registry in `tmp_path/app/sweeps` and, outside it, a file that is a valid record."""
    registry = SweepRegistry(tmp_path / "app")
    registry.save(small_sweep(name="victim"))
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.json"
    (tmp_path / "app" / "sweeps" / "victim.json").rename(victim)
    return registry, victim


def traversals(victim: Path) -> list[tuple[str, str]]:
    """(existing target, missing target) pairs of equally long names that climb out of the registry
    folder (a long name's message states its length, which is the caller's own text, not the disk's)."""
    return [
        ("../../outside/victim", "../../outside/ghost1"),
        (str(victim.with_suffix("")), str(victim.with_name("ghost1"))),  # absolute paths
        ("../../outside/../outside/victim", "../../nowhere/../outside/victim"),
    ]


OPERATIONS: dict[str, Callable[[SweepRegistry, str], object]] = {
    "get": lambda registry, name: registry.get(name),
    "find": lambda registry, name: registry.find(name),
    "record_deploy": lambda registry, name: registry.record_deploy(name, "0" * 64),
    "record_run": lambda registry, name: registry.record_run(name, "manual__1"),
    "delete": lambda registry, name: registry.delete(name),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_registry_refuses_traversal_alike_whether_the_target_exists_or_not(
    registry_and_victim: tuple[SweepRegistry, Path], operation: str, files_touched: list[str]
) -> None:
    registry, victim = registry_and_victim
    before = victim.read_bytes()
    files_touched.clear()
    for existing, missing in traversals(victim):
        messages = []
        for name in (existing, missing):
            with pytest.raises(BadRequest) as info:
                OPERATIONS[operation](registry, name)
            messages.append(info.value.message)
        assert messages[0] == messages[1], (existing, missing)
        assert messages[0].startswith("name: ") and messages[0].endswith(NAME_HELP)
    folder = (victim.parent.parent / "app" / "sweeps").resolve()
    outside = [path for path in files_touched if not Path(path).resolve().is_relative_to(folder)]
    assert outside == []
    assert victim.read_bytes() == before


def test_the_same_names_read_a_record_inside_the_folder(
    registry_and_victim: tuple[SweepRegistry, Path],
) -> None:
    registry, _victim = registry_and_victim
    registry.save(small_sweep(name="inside"))
    assert registry.get("inside").name == "inside"
    assert registry.find("ghost") is None  # a valid missing name is still simply absent


def test_clone_link_with_a_traversal_shows_the_same_alert_for_existing_and_missing_files(
    tmp_path: Path,
) -> None:
    from tests.fakes import use_fake_services

    services = use_fake_services(tmp_path)
    services.registry.save(small_sweep(name="victim"))
    (tmp_path / "registry" / "sweeps" / "victim.json").rename(tmp_path / "victim.json")
    from pages.configure import clone_from_url

    alerts = [str(clone_from_url(name, 0)[2].to_plotly_json()) for name in ("../../victim", "../../ghost")]
    assert alerts[0] == alerts[1]
    assert REFUSED in alerts[0] and "Cannot clone." in alerts[0]
