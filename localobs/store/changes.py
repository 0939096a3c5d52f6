"""The cheap checks a viewer polls to learn that something new was stored."""

from __future__ import annotations

import sqlite3

_RECENT_ROWS = 1000


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection (the writer) commits; constant otherwise. Compare
    values from the same connection only."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def latest_call_id(conn: sqlite3.Connection) -> int:
    """The highest call_id stored, 0 if none. The newest rows are looked at first, so this stays
    cheap however many spans are stored."""
    recent = conn.execute(
        "SELECT max(rowid) FROM (SELECT rowid, operation FROM spans NOT INDEXED"
        " ORDER BY rowid DESC LIMIT ?) WHERE operation IS NOT NULL",
        (_RECENT_ROWS,),
    ).fetchone()[0]
    if recent is not None:
        return int(recent)
    found = conn.execute(
        "SELECT max(rowid) FROM spans INDEXED BY llm_calls_list WHERE operation IS NOT NULL"
    ).fetchone()[0]
    return found or 0
