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

    def mirror_to(self, status_file: Path) -> None:
        """From now on, keep `status_file` up to date (the live process's view, for `info`)."""
        with self._lock:
            self._status_file = status_file
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
        if self._status_file is not None:
            with contextlib.suppress(OSError):
                self._status_file.unlink()

    def _mirror(self) -> None:
        """Rewrite the status file (under the lock); failing to is never fatal."""
        if self._status_file is None:
            return
        data = {"pid": os.getpid(), "conditions": [asdict(each) for each in self._items.values()]}
        temporary = self._status_file.with_name(self._status_file.name + ".tmp")
        with contextlib.suppress(OSError):
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(orjson.dumps(data))
            os.replace(temporary, self._status_file)


def status_file_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + STATUS_FILE_SUFFIX)


def read_status_file(db_path: Path) -> tuple[Condition, ...] | None:
    """The conditions a live `localobs up` on `db_path` reports; None if none is running."""
    path = status_file_for(db_path)
    try:
        data = orjson.loads(path.read_bytes())
        os.kill(int(data["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    return tuple(Condition(**each) for each in data["conditions"])
