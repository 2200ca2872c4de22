"""The sweep-name rule, shared by SweepConfig and every place a name becomes a path, key or URL."""

from __future__ import annotations

import re

MAX_NAME_CHARS = 60
NAME_PATTERN = re.compile(r"^[a-z0-9_]{3,60}$")
NAME_HELP = f"use 3 to {MAX_NAME_CHARS} lowercase letters, digits or underscores (e.g. mr_spy_2024)"


class SweepNameError(ValueError):
    """A sweep name that breaks the name rule; the message names the field and says what to write."""


def name_problem(name: object) -> str | None:
    """What is wrong with a sweep name, or None; the length is checked before the pattern runs."""
    if not isinstance(name, str):
        return "must be text"
    if len(name) > MAX_NAME_CHARS:
        return f"at most {MAX_NAME_CHARS} characters (got {len(name):,}); {NAME_HELP}"
    # fullmatch: NAME_PATTERN's `$` also matches before a trailing newline
    return None if NAME_PATTERN.fullmatch(name) else NAME_HELP


def validate_sweep_name(name: object) -> str:
    """The name, if it follows SweepConfig's rule; SweepNameError otherwise.

    Call it before a name becomes a path, key or URL: a name that passes holds only a-z, 0-9
    and `_`, so `../x` or `/etc/x` are refused by their text alone, never by looking at a disk.
    """
    problem = name_problem(name)
    if problem is not None:
        raise SweepNameError(f"name: {problem}")
    return name  # type: ignore[return-value]
