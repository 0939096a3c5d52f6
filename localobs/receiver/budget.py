"""One memory budget for every request body being inflated or decoded at once, on any transport.

The per-body limit alone lets eight concurrent gzip bodies of 60 MB each take a gigabyte; the
budget caps their sum instead, and a request that would go beyond it is refused as retryable
(HTTP 503 / gRPC RESOURCE_EXHAUSTED) rather than waiting while it holds memory.
"""

from __future__ import annotations

import threading
from types import TracebackType

DEFAULT_MAX_INFLIGHT = 256 << 20

# A body is held twice while it is decoded: its bytes and the messages decoded from them (and,
# while it is being read, its pieces and their joined copy).
_HELD_PER_BYTE = 2


class OverBudget(Exception):
    """Taking more would exceed the budget: the caller should refuse the request, retryable."""


class MemoryBudget:
    """Bytes held by bodies in flight, shared by the HTTP event loop and the gRPC threads."""

    def __init__(self, limit: int = DEFAULT_MAX_INFLIGHT) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def hold(self) -> BodyHold:
        """What one request's body holds; release it (or leave the `with`) when done."""
        return BodyHold(self)

    def _take(self, amount: int) -> None:
        with self._lock:
            if self._used + amount > self.limit:
                raise OverBudget(
                    f"the receiver is busy with other large requests (their bodies hold "
                    f"{self._used >> 20} MiB of {self.limit >> 20} MiB): retry later"
                )
            self._used += amount

    def _give_back(self, amount: int) -> None:
        with self._lock:
            self._used -= amount


class BodyHold:
    """The share of the budget that one body holds."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self._held = 0

    def add(self, body_bytes: int) -> None:
        """Account for `body_bytes` more of the body; raises OverBudget (holding nothing more)."""
        amount = body_bytes * _HELD_PER_BYTE
        self._budget._take(amount)
        self._held += amount

    def release(self) -> None:
        self._budget._give_back(self._held)
        self._held = 0

    def __enter__(self) -> BodyHold:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.release()
