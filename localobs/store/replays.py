"""Replays of model calls: how they are marked, and finding them again.

A replay is stored as a model call of service `localobs-replay`, in a trace of its own, with a
span link to the original call and attributes naming it. Totals and lists leave them out unless
a filter asks for them (see call_filter), so they never mix into the original app's figures.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

REPLAY_SERVICE = "localobs-replay"
OF_CALL_ID = "localobs.replay.of_call_id"
OF_TRACE_ID = "localobs.replay.of_trace_id"
OF_SPAN_ID = "localobs.replay.of_span_id"
RUN = "localobs.replay.run"
BATCH = "localobs.replay.batch"


@dataclass(frozen=True, slots=True)
class StoredReplay:
    call_id: int
    trace_id: str
    batch: str
    run: int
    temperature: float | None
    output_tokens: int | None
    linked_trace_id: str | None
    linked_span_id: str | None


def replays_of(conn: sqlite3.Connection, call_id: int) -> list[StoredReplay]:
    """The stored replays of one call, in batch and run order."""
    rows = conn.execute(
        "SELECT rowid, trace_id, json_extract(attributes, ?), json_extract(attributes, ?),"
        " temperature, output_tokens, json_extract(links, '$[0].trace_id'),"
        " json_extract(links, '$[0].span_id') FROM spans"
        " WHERE service_name = ? AND operation IS NOT NULL AND json_extract(attributes, ?) = ?"
        " ORDER BY rowid",
        (f'$."{BATCH}"', f'$."{RUN}"', REPLAY_SERVICE, f'$."{OF_CALL_ID}"', call_id),
    )
    return [StoredReplay(*row) for row in rows]


def call_id_of(conn: sqlite3.Connection, trace_id: str, span_id: str) -> int | None:
    """The call id of a stored model call, by its span's ids."""
    row = conn.execute(
        "SELECT rowid FROM spans WHERE trace_id = ? AND span_id = ? AND operation IS NOT NULL",
        (trace_id, span_id),
    ).fetchone()
    return None if row is None else int(row[0])
