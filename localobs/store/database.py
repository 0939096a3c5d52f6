"""Opening the SQLite file: where it lives, its pragmas, and the check that it is ours."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import cast

import platformdirs

from localobs.private_files import PRIVATE_FILE, make_private_dir, tighten
from localobs.store.schema import NotALocalobsDatabase, migrate

# SQLite creates these beside the database with the database file's own permissions.
_SIDE_FILES = ("-wal", "-shm", "-journal")

# CPython's sqlite3 binds int, float and str directly, but searches an adapter for every other
# value, through two failing attribute lookups when none is registered: ~0.2 us a value. A span
# row binds ~25 NULLs, which made that search a third of the writer's insert. Registered here,
# the search ends at its first dictionary lookup; the values bound are the same.
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))  # None: NULL
sqlite3.register_adapter(bytes, bytes)  # bytes(value) is value: bound as a BLOB


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
    """Create or migrate the database at `path`; raise if it is not a localobs database.

    Readable by the user only (see `localobs.private_files`): a new file is created 0600 before
    SQLite opens it, so its -wal and -shm follow, in a directory made 0700 if it is made here.
    Once the file is known to be ours, looser modes left by older versions are tightened: its
    side files, and the directory when it is localobs's own data dir (a directory the user chose
    for --db, a project folder or /tmp, is theirs and left as it is).
    """
    target = Path(path)
    make_private_dir(target.parent)
    with contextlib.suppress(OSError):  # it exists, or SQLite will say what is wrong with the path
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    try:
        conn = connect(target)
    except sqlite3.DatabaseError as exc:
        raise NotALocalobsDatabase(f"{target} is not an SQLite database: {exc}") from exc
    try:
        version = migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise NotALocalobsDatabase(f"{target} is not an SQLite database: {exc}") from exc
    finally:
        conn.close()
    own_dir = [target.parent] if target.parent == default_db_path().parent else []
    tighten([*own_dir, target, *(Path(f"{target}{suffix}") for suffix in _SIDE_FILES)])
    return version
