"""The writer's maintenance: a list of jobs run while no batch waits.

Ingest comes first: the writer applies every batch that is waiting, and only once it has been idle
for a job's `idle_timeout()` does it run one `step()` of that job (tens of milliseconds at most, in
a transaction of its own). A job that falls behind under a load that never pauses says so with
`overdue()`, and then gets one step between commit groups. A new kind of maintenance is a class
with these three methods, added to `writer_jobs`. (The passive WAL checkpoints stay on a thread of
their own: they must run during ingest, not only between batches.)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from localobs.store.retention import RetentionJob
from localobs.store.rollups import IdleRollups
from localobs.store.summaries import SummaryJob
from localobs.store.wal_size import WalTruncation

# A job whose step keeps failing waits longer each time (2, 4, ... s), up to this.
MAX_BACKOFF_S = 60.0


class IdleJob(Protocol):
    def idle_timeout(self) -> float | None:
        """Seconds of writer idleness before the next `step()`; None when there is nothing to do."""
        ...

    def overdue(self) -> bool:
        """True when the job cannot wait for idle time any longer (a sustained load)."""
        ...

    def step(self) -> bool:
        """Do one small chunk of work; True when more is waiting."""
        ...


def writer_jobs(conn: sqlite3.Connection, db_path: Path) -> list[IdleJob]:
    """The writer process's maintenance, in the order it runs when several are due."""
    # Rollups and the text index share one job: both fold the same rows under one watermark.
    # The lists' summaries come first: the viewer waits for them (milliseconds after a commit).
    return [
        SummaryJob(conn),
        IdleRollups(conn),
        RetentionJob(conn, db_path),
        WalTruncation(conn, db_path),
    ]


class IdleJobs:
    """Runs a list of `IdleJob`s in the writer's idle time; the writer calls `busy()` after each
    commit, asks `wait_s()` how long to wait for a batch, and calls `run_idle()` if none came.

    A job's next step is due `idle_timeout()` seconds after the later of the last batch and its
    own last step, so a job that found nothing to do is not asked again at once.
    """

    def __init__(
        self,
        jobs: Sequence[IdleJob],
        *,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self._jobs = tuple(jobs)
        self._clock = clock
        self._on_error = on_error
        self._idle_since = clock()
        self._stepped = [float("-inf")] * len(self._jobs)
        self._failures = [0] * len(self._jobs)  # in a row, per job: its back-off

    def busy(self) -> None:
        """A batch was just applied: idle time starts again from now."""
        self._idle_since = self._clock()

    def _due(self) -> list[float | None]:
        due: list[float | None] = []
        for job, stepped, failures in zip(self._jobs, self._stepped, self._failures, strict=True):
            timeout = job.idle_timeout()
            if timeout is not None and failures:
                timeout += min(MAX_BACKOFF_S, 2.0**failures)
            due.append(None if timeout is None else max(self._idle_since, stepped) + timeout)
        return due

    def wait_s(self) -> float | None:
        """How long to wait for a batch before `run_idle()`; None when no job has work."""
        due = [when for when in self._due() if when is not None]
        if not due:
            return None
        return max(0.0, min(due) - self._clock())

    def run_idle(self) -> None:
        """One step of every job whose time has come."""
        now = self._clock()
        for index, when in enumerate(self._due()):
            if when is not None and when <= now:
                self._step(index)

    def run_overdue(self) -> None:
        """Between commit groups: one step of each job that cannot wait for idle time."""
        for index, job in enumerate(self._jobs):
            if not self._failures[index] and job.overdue():
                self._step(index)

    def _step(self, index: int) -> None:
        """One step; a failure goes to `on_error` (if given) and the job waits its turn again."""
        job = self._jobs[index]
        try:
            job.step()
        except Exception as exc:
            if self._on_error is None:
                raise
            self._on_error(type(job).__name__, exc)
            self._failures[index] += 1
        else:
            self._failures[index] = 0
        self._stepped[index] = self._clock()
