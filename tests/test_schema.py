"""The schema's migrations are literal and frozen, and the column lists the writer inserts by name
exactly the columns the migrations create."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from localobs.store.database import connect, prepare_database
from localobs.store.schema import (
    LOG_COLUMNS,
    METRIC_POINT_COLUMNS,
    MIGRATIONS,
    RESOURCE_COLUMNS,
    SCOPE_COLUMNS,
    SPAN_COLUMNS,
)

# sha256 of each released migration's text. A released migration never changes: databases that
# ran it exist. Change the schema with a new migration at the end of MIGRATIONS instead.
RELEASED = (
    "560e79cd327529bbbf485d3b0905c5aaef14a8420fb9054a8d6e93da54845d36",
    "37142ecd9e915ebd5ff14d7e1c98c6d5af9e1fe13742afe47deae3295d9cab09",
    "14d8aeca38aaf05984b077e37bab89233c577b198ac2d71b6d5568db5120eded",
    "59e7c593ad28ee61720ee9f9e97c1966e306314d5b4a626ba1a6e536be1c6aac",
    "3e2bd9a3648781a6c0a93477b15c07781a39adf551d35e24533c4f1b34ae59c8",
)


def test_released_migrations_never_change() -> None:
    for number, expected in enumerate(RELEASED, start=1):
        digest = hashlib.sha256(MIGRATIONS[number - 1].encode()).hexdigest()
        assert digest == expected, f"migration {number} changed"


def test_migration_1_is_literal_sql() -> None:
    """Built from no live column list: a column added later cannot leak into it."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(MIGRATIONS[0])
    spans = [row[1] for row in conn.execute("PRAGMA table_info(spans)")]
    assert spans[0] == "trace_id" and spans[-1] == "dialect" and len(spans) == 38


def test_the_insert_columns_are_the_tables_columns(tmp_path: Path) -> None:
    prepare_database(tmp_path / "db")
    conn = connect(tmp_path / "db")
    for table, columns in (
        ("spans", SPAN_COLUMNS),
        ("logs", LOG_COLUMNS),
        ("metric_points", METRIC_POINT_COLUMNS),
        ("resources", RESOURCE_COLUMNS),
        ("scopes", SCOPE_COLUMNS),
    ):
        assert tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})")) == columns


def test_values_bind_as_sqlite_types_with_the_registered_adapters(tmp_path: Path) -> None:
    """database.py registers adapters for None and bytes (for speed): they still bind as NULL
    and as a BLOB holding the same bytes, beside the types bound directly."""
    conn = connect(tmp_path / "db")
    values = (None, b"\x00refs\xff", "text", 7, 0.5)
    row = conn.execute(
        "SELECT typeof(?1), ?1, typeof(?2), ?2, typeof(?3), typeof(?4), typeof(?5)", values
    ).fetchone()
    assert row == ("null", None, "blob", b"\x00refs\xff", "text", "integer", "real")
