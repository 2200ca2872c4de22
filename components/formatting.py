"""Shared text formatting of the views: times, durations, counts (local time, an em dash when unknown)."""

from __future__ import annotations

from datetime import datetime

UNKNOWN_TEXT = "—"
SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600


def format_minute(moment: datetime | None) -> str:
    """`2026-12-01 09:09` in local time; empty when unknown (a grid cell, a table cell)."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""


def format_time(moment: datetime | None) -> str:
    """`2026-12-01 09:09:41` in local time; an em dash when unknown."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else UNKNOWN_TEXT


def format_clock(moment: datetime) -> str:
    """`09:09:41` in local time (a naive moment is taken as local): when a view was last refreshed."""
    return moment.astimezone().strftime("%H:%M:%S")


def format_hour_minute(moment: datetime | None) -> str:
    """`09:09` in local time; an em dash when unknown."""
    return moment.astimezone().strftime("%H:%M") if moment else UNKNOWN_TEXT


def format_duration(seconds: float | None) -> str:
    """`1 h 05 m`, `4 m 12 s`, `37 s`; an em dash when unknown."""
    if seconds is None:
        return UNKNOWN_TEXT
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
    if hours:
        return f"{hours} h {minutes:02d} m"
    if minutes:
        return f"{minutes} m {secs:02d} s"
    return f"{secs} s"


def plural(count: int, noun: str) -> str:
    """`1 point`, `2,500 points`."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
