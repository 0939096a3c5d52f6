"""Opening the SQLite file: where it lives, its pragmas, and the check that it is ours."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import platformdirs

from localobs.store.schema import NotALocalobsDatabase, migrate


def default_db_path() -> Path:
    """The user's data dir, e.g. ~/.local/share/localobs/localobs.db on Linux."""
    return Path(platformdirs.user_data_dir("localobs")) / "localobs.db"


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every localobs connection uses.

    Readers get `query_only` so no code path can write through them; WAL lets them read while the
    writer commits.
    """
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def prepare_database(path: Path | str) -> int:
    """Create or migrate the database at `path`; raise if it is not a localobs database."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = connect(target)
    except sqlite3.DatabaseError as exc:
        raise NotALocalobsDatabase(f"{target} is not an SQLite database: {exc}") from exc
    try:
        return migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise NotALocalobsDatabase(f"{target} is not an SQLite database: {exc}") from exc
    finally:
        conn.close()
