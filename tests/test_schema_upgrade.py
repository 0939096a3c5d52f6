"""A database made by the first release (tests/fixtures/release-0.1.0.sqlite3, rows in every
table; see tests/fixtures/make_release_db.py) upgrades to today's schema with its data intact:
every row reads back through the query functions, export and the viewer, exactly as a database
made today from the same telemetry."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from localobs.receiver.bodies import Format
from localobs.receiver.pipeline import decode_body
from localobs.store import Store
from localobs.store.calls import get_call, list_calls
from localobs.store.components import component_stats
from localobs.store.database import connect
from localobs.store.export import ExportFilter
from localobs.store.outbox import forwarding_status, register_upstreams
from localobs.store.queries import database_summary, list_spans
from localobs.store.retention import PruneGoal, prune
from localobs.store.rollups import roll_up_all
from localobs.store.schema import SCHEMA_VERSION
from localobs.store.stats import activity, totals
from localobs.store.traces import get_trace
from localobs.transfer.export import requests
from localobs.tui.app import LocalobsApp
from localobs.tui.widgets.calls_table import CallsTable
from tests.fixtures.make_release_db import orphan_event
from tests.otlp_corpus import corpus
from tests.test_export_roundtrip import _items, _span_key
from tests.tui_pilot import wait_until

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.0.sqlite3"
NOW = 1_700_000_100_000_000_000


def _clock() -> int:
    return NOW


@pytest.fixture
def upgraded(tmp_path: Path) -> Path:
    """A copy of the release's file, opened (and so migrated) by today's code."""
    path = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 5
    Store(path)
    # The upgrade asks for everything to be folded again (token estimates, cost parts): what the
    # idle writer then does.
    conn = connect(path)
    roll_up_all(conn)
    conn.close()
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """The same telemetry stored by today's code, as the fixture script stored it."""
    path = tmp_path / "new.db"
    store = Store(path)
    conn = connect(path)
    register_upstreams(conn, ["http://127.0.0.1:9/"])
    store.start_writer(forwarding=True)
    for signal, message in [*corpus(), ("logs", orphan_event())]:
        batch, _rejections = decode_body(signal, message.SerializeToString(), Format.PROTOBUF)
        store.submit(batch).result(timeout=30)
    store.close()
    roll_up_all(conn)
    conn.close()
    return path


def everything_read(path: Path) -> dict[str, Any]:
    """What every query function says about the database."""
    conn = connect(path, readonly=True)
    try:
        calls = list_calls(conn, limit=1000)
        trace_ids = {span.trace_id for span in list_spans(conn, limit=1000)}
        return {
            "summary": database_summary(conn),
            "calls": calls,
            "details": [get_call(conn, call.call_id) for call in calls],
            "spans": list_spans(conn, limit=1000),
            "traces": sorted(
                (get_trace(conn, trace_id) for trace_id in trace_ids), key=lambda t: repr(t)
            ),
            "totals": totals(conn, _clock, None),
            "activity": activity(conn, _clock, None),
            "components": component_stats(conn, _clock, None),
            "forwarding": [
                (status.upstream, status.pending_batches, status.pending_items)
                for status in forwarding_status(conn)
            ],
            "pending_events": conn.execute("SELECT count(*) FROM genai_pending").fetchone()[0],
        }
    finally:
        conn.close()


def test_the_release_database_upgrades(upgraded: Path) -> None:
    conn = sqlite3.connect(upgraded)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    summary = database_summary(conn)
    assert (summary.spans, summary.logs, summary.metric_points) == (19, 17, 8)
    # Rewritten once so retention can give freed pages back to the file system.
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2


def test_the_release_rows_get_an_age_for_retention(upgraded: Path) -> None:
    """Dated by the last batch before the upgrade: `prune --older-than` can delete them."""
    conn = connect(upgraded)
    pruned = prune(conn, upgraded, PruneGoal(older_than_unix_nano=time.time_ns()))
    assert (pruned.spans, pruned.logs, pruned.metric_points) == (19, 17, 8)
    assert conn.execute("SELECT count(*) FROM contents").fetchone()[0] == 0
    conn.close()


def test_every_row_reads_back_as_from_a_new_database(upgraded: Path, fresh: Path) -> None:
    old, new = everything_read(upgraded), everything_read(fresh)
    assert old["calls"] and old["traces"] and old["forwarding"] and old["pending_events"] == 1
    for key in new:
        assert old[key] == new[key], key


def test_export_gives_back_the_otlp_the_release_stored(upgraded: Path) -> None:
    sent: dict[str, list[tuple[Message, ...]]] = {"traces": [], "logs": [], "metrics": []}
    for signal, message in [*corpus(), ("logs", orphan_event())]:
        sent[signal] += _items(signal, message)
    conn = connect(upgraded, readonly=True)
    rebuilt: dict[str, list[tuple[Message, ...]]] = {"traces": [], "logs": [], "metrics": []}
    for page, request in requests(conn, ExportFilter()):
        rebuilt[page.signal] += _items(page.signal, request)
    for signal in sent:
        key = _span_key if signal == "traces" else repr
        assert sorted(map(key, rebuilt[signal])) == sorted(map(key, sent[signal])), signal


async def test_the_viewer_lists_the_release_calls(upgraded: Path, tmp_path: Path) -> None:
    store = Store(upgraded)
    conn = connect(upgraded, readonly=True)
    expected = len(list_calls(conn, limit=1000))
    conn.close()
    app = LocalobsApp(store, export_dir=tmp_path, clock=_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count == expected)
        table = app.screen.query_one(CallsTable)
        rows = [" ".join(map(str, table.get_row_at(i))) for i in range(table.row_count)]
    assert expected == 15
    assert sum("Name one colour of the sky." in row for row in rows) == 10
    assert all("smollm2" in row for row in rows)
