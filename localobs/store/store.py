"""The store as the rest of the program sees it: one writer process, and reader connections."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import Future
from pathlib import Path

from localobs.conditions import Conditions, status_file_for
from localobs.store.batch import Batch
from localobs.store.database import connect, prepare_database
from localobs.store.retention import RetentionPolicy, set_policy, toggle_kept
from localobs.store.writer_client import StoreUnavailable, WriterClient


class Store:
    """A localobs database. Creating it checks (or creates and migrates) the file.

    `start_writer` is only needed by whoever ingests; readers (TUI, CLI) call `reader()` and get a
    connection of their own that never blocks the writer.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.schema_version = prepare_database(self.path)
        self._writer: WriterClient | None = None
        self.forwarding = False
        self.conditions = Conditions()

    def start_writer(self, *, max_pending_bytes: int = 256 << 20, forwarding: bool = False) -> None:
        """`forwarding`: the writer records every batch's rows in the outbox, for delivery."""
        self.forwarding = forwarding
        if self._writer is None:
            self.conditions.mirror_to(status_file_for(self.path))
            self._writer = WriterClient(
                self.path, max_pending_bytes=max_pending_bytes, conditions=self.conditions
            )

    def submit(self, batch: Batch) -> Future[None]:
        """Hand a batch to the writer; the future completes once it is committed to disk."""
        if self._writer is None:
            raise StoreUnavailable("the store was opened without a writer")
        batch.forward = self.forwarding
        return self._writer.submit(batch)

    @property
    def writer_pid(self) -> int | None:
        return self._writer.writer_pid if self._writer else None

    @property
    def pending_bytes(self) -> int:
        return self._writer.pending_bytes if self._writer else 0

    def set_retention(self, policy: RetentionPolicy) -> None:
        """The caps the writer's retention job holds the files to (kept in the database)."""
        conn = connect(self.path)
        try:
            set_policy(conn, policy)
        finally:
            conn.close()

    def toggle_kept(self, trace_id: str) -> bool:
        """Exempt a trace from retention, or release it if it was; True when kept now."""
        conn = connect(self.path)
        try:
            return toggle_kept(conn, trace_id, time.time_ns())
        finally:
            conn.close()

    def reader(self) -> sqlite3.Connection:
        return connect(self.path, readonly=True)

    def close(self) -> None:
        """Commit what was submitted and stop the writer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self.conditions.close()
