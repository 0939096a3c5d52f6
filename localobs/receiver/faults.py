"""Failures on untrusted input that validation did not foresee: counted, and logged once each.

Decoding and normalization must never fail on input. Where one still does (a shape nobody
foresaw), the caller keeps the damage to that one item (a span is stored without its LLM-call
columns, an undecodable item is refused with partial success) and records the failure here:
counted by where it happened, and logged with its traceback only the first time each (where,
exception type) is met, so a stream of such items cannot flood the log or the viewer.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("localobs.receiver")


class InputFaults:
    """Thread-safe: HTTP decodes on the event loop, gRPC on its worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._logged: set[tuple[str, str]] = set()

    def record(self, where: str, exc: Exception) -> None:
        kind = (where, type(exc).__name__)
        with self._lock:
            self._counts[where] = self._counts.get(where, 0) + 1
            first = kind not in self._logged
            self._logged.add(kind)
        if first:
            log.warning(
                "%s failed on one input item, which was kept raw or refused alone "
                "(later failures of this kind are only counted): %s: %s",
                where,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )

    def counts(self) -> dict[str, int]:
        """Failures so far by where they happened, e.g. {"normalize openllmetry": 2}."""
        with self._lock:
            return dict(self._counts)


FAULTS = InputFaults()
