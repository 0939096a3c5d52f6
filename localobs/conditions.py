"""What is wrong (or worth knowing) right now, in one place: the writer restarting, a lock held by
another program, a full disk, the demo bot crashing.

The part that notices a condition sets it; `/health`, `localobs info` and the viewer read it. A
running `localobs up` also mirrors the board into a small JSON file beside the database, so that
`localobs info` in another terminal can say what the live process sees.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

Level = Literal["info", "warning", "error"]
STATUS_FILE_SUFFIX = ".status.json"
# The status file's blocks are allocated once and overwritten in place: a full disk, one of the
# conditions it must report, would otherwise stop it from being written.
STATUS_FILE_BYTES = 64 << 10


@dataclass(frozen=True)
class Condition:
    """One named condition. `source` is its key: setting it again replaces it."""

    source: str
    level: Level
    message: str
    since_unix: float
    details: dict[str, Any] = field(default_factory=dict)


class Conditions:
    """A thread-safe board of live conditions; `version` changes on every set or clear."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Condition] = {}
        self._version = 0
        self._status_file: Path | None = None
        self._status_fd: int | None = None

    def mirror_to(self, status_file: Path) -> None:
        """From now on, keep `status_file` up to date (the live process's view, for `info`)."""
        with self._lock:
            try:
                fd = os.open(status_file, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return  # `info` then says no process is receiving; nothing else depends on it
            try:
                os.posix_fallocate(fd, 0, STATUS_FILE_BYTES)
            except OSError:
                os.close(fd)
                return
            self._status_file, self._status_fd = status_file, fd
            self._mirror()

    @property
    def version(self) -> int:
        return self._version

    def set(self, source: str, level: Level, message: str, **details: Any) -> None:
        """Report `source`'s condition; `since_unix` is kept while the message stays the same."""
        with self._lock:
            previous = self._items.get(source)
            since = (
                previous.since_unix
                if previous is not None and previous.message == message
                else time.time()
            )
            self._items[source] = Condition(source, level, message, since, details)
            self._version += 1
            self._mirror()

    def clear(self, source: str) -> None:
        with self._lock:
            if self._items.pop(source, None) is not None:
                self._version += 1
                self._mirror()

    def snapshot(self) -> tuple[Condition, ...]:
        """The current conditions, the worst first."""
        with self._lock:
            items = list(self._items.values())
        order = {"error": 0, "warning": 1, "info": 2}
        return tuple(sorted(items, key=lambda each: (order[each.level], each.source)))

    def get(self, source: str) -> Condition | None:
        with self._lock:
            return self._items.get(source)

    def close(self) -> None:
        """The process is stopping: its status file no longer describes anything."""
        with self._lock:
            if self._status_file is not None and self._status_fd is not None:
                with contextlib.suppress(OSError):
                    self._status_file.unlink()
                os.close(self._status_fd)
            self._status_file = self._status_fd = None

    def _mirror(self) -> None:
        """Overwrite the status file in place (under the lock); failing to is never fatal."""
        if self._status_fd is None:
            return
        items = [asdict(each) for each in self._items.values()]
        data = orjson.dumps({"pid": os.getpid(), "conditions": items})
        if len(data) > STATUS_FILE_BYTES:
            for each in items:
                each["details"] = {}
            data = orjson.dumps({"pid": os.getpid(), "conditions": items})
        with contextlib.suppress(OSError):
            os.pwrite(self._status_fd, data.ljust(STATUS_FILE_BYTES), 0)


def degraded(conditions: tuple[Condition, ...]) -> bool:
    """Whether something stops localobs from doing its job (storing what it is sent)."""
    return any(each.level == "error" for each in conditions)


def describe(condition: Condition, now_unix: float) -> str:
    """One line for people: the message, for how long, and its details."""
    seconds = max(0, int(now_unix - condition.since_unix))
    extra = "; ".join(
        f"{key.replace('_', ' ')}: {_plain(value)}" for key, value in condition.details.items()
    )
    return f"{condition.message} (for {seconds} s{'; ' + extra if extra else ''})"


def _plain(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def status_file_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + STATUS_FILE_SUFFIX)


def read_status_file(db_path: Path) -> tuple[Condition, ...] | None:
    """The conditions a live `localobs up` on `db_path` reports; None if none is running."""
    path = status_file_for(db_path)
    for _attempt in range(3):  # a read can meet a write half done: read again
        try:
            data = orjson.loads(path.read_bytes())
            os.kill(int(data["pid"]), 0)
            return tuple(Condition(**each) for each in data["conditions"])
        except orjson.JSONDecodeError:
            time.sleep(0.01)
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return None
