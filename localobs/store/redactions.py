"""The record of redaction at ingest: credentials replaced per kind, batches stored without it.

The writer adds to it in each batch's own transaction (a retried body counts once, like its rows);
`info` and exports read it to say whether the stored content may still hold credentials.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

_ADD_REDACTED = (
    "INSERT INTO redactions (kind, count) VALUES (?, ?) "
    "ON CONFLICT (kind) DO UPDATE SET count = count + excluded.count"
)
_ADD_UNREDACTED = (
    "INSERT INTO unredacted_batches (signal, batches) VALUES (?, 1) "
    "ON CONFLICT (signal) DO UPDATE SET batches = batches + 1"
)


def record_redactions(conn: sqlite3.Connection, signal: str, counts: dict[str, int] | None) -> None:
    """Count one stored batch: the credentials replaced in it, or None when it was not redacted."""
    if counts is None:
        conn.execute(_ADD_UNREDACTED, (signal,))
    elif counts:
        conn.executemany(_ADD_REDACTED, counts.items())


@dataclass(frozen=True, slots=True)
class RedactionSummary:
    """`by_kind`: (kind, count), most first. `unredacted_batches`: stored with redaction off."""

    by_kind: tuple[tuple[str, int], ...]
    unredacted_batches: int

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_kind)

    @property
    def complete(self) -> bool:
        """Whether every stored batch went through redaction."""
        return self.unredacted_batches == 0


def redaction_summary(conn: sqlite3.Connection) -> RedactionSummary:
    by_kind = conn.execute("SELECT kind, count FROM redactions ORDER BY count DESC, kind")
    summed = conn.execute("SELECT coalesce(sum(batches), 0) FROM unredacted_batches").fetchone()
    return RedactionSummary(tuple((kind, count) for kind, count in by_kind), summed[0])
