"""Time windows: from `window_s` and a clock to a start time, and to the rollup rows covering it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Clock = Callable[[], int]

_MINUTE_NS = 60 * 1_000_000_000
_HOUR_NS = 3600 * 1_000_000_000


def window_since(clock: Clock, window_s: float | None) -> int | None:
    """The first nanosecond of the window ending now; None for all time."""
    return None if window_s is None else clock() - round(window_s * 1e9)


def rollup_range(since: int | None) -> tuple[str, list[Any]]:
    """A WHERE clause over a rollup table for spans starting at or after `since`: whole hours
    from the hourly rows, the minutes before the first whole hour from the per-minute rows (so
    the window's start is honoured to the minute)."""
    if since is None:
        return "grain_s = 3600", []
    first_hour = -(-since // _HOUR_NS)
    return (
        "((grain_s = 3600 AND slot >= ?) OR (grain_s = 60 AND slot >= ? AND slot < ?))",
        [first_hour, since // _MINUTE_NS, first_hour * 60],
    )
