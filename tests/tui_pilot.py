"""Helpers for driving the viewer with Textual's pilot: waiting on worker-thread results."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Let the app run until `condition()` is true; queries land from worker threads."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        await pilot.pause(0.02)
