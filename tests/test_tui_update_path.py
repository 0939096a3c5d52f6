"""The viewer's update path costs the event loop only what changed: a footer is rebuilt only when
its keys change, a screen reads its data once when opened, and a query nobody waits for any more
is stopped (issue 14: keys under a flood)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from textual import work
from textual.app import App
from textual.widgets._footer import FooterKey

from localobs.store import Store
from localobs.tui.app import LocalobsApp
from localobs.tui.refresh import QueryCancelled, ReaderPool, RefreshGate
from localobs.tui.screens.agents import AgentsScreen, RunScreen
from localobs.tui.screens.calls import CallsScreen
from localobs.tui.widgets.calls_table import CallsTable
from tests.agent_payloads import openinference_conversation
from tests.conftest import RunningReceiver
from tests.test_tui_agents import row_count, table, text_of, until, viewer
from tests.tui_pilot import wait_until

SIZE = (140, 44)


def footer_keys(app: LocalobsApp) -> dict[str, FooterKey]:
    return {key.action: key for key in app.screen.query(FooterKey)}


def enabled(app: LocalobsApp, action: str) -> bool:
    """The footer shows `action`'s key, not dimmed."""
    key = footer_keys(app).get(action)
    return key is not None and not key.has_class("-disabled")


async def test_the_footer_is_rebuilt_only_when_its_keys_change(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query_one(CallsTable).row_count > 0)
        await until(pilot, lambda: enabled(app, "open_detail"))
        await pilot.pause(0.2)
        before = footer_keys(app)
        assert before["compare"].has_class("-disabled")  # nothing marked yet
        # Another screen in front and back, and bindings refreshed with nothing changed: the
        # footer's key widgets stay the ones already shown (Textual's Footer rebuilt them all).
        await pilot.press("g")
        await until(pilot, lambda: row_count(app, "#runs") > 0)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CallsScreen))
        app.screen.refresh_bindings()
        app.screen.refresh_bindings()
        await pilot.pause(0.2)
        after = footer_keys(app)
        assert all(after[action] is key for action, key in before.items())
        # A key that changes is shown changed: marking a call enables Compare.
        await pilot.press("m")
        await until(pilot, lambda: enabled(app, "compare"))


async def test_the_agents_screen_reads_its_runs_once_when_opened(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    statements: list[str] = []

    def reader() -> sqlite3.Connection:
        conn = receiver.store.reader()
        conn.set_trace_callback(statements.append)
        return conn

    viewer(receiver, tmp_path)  # stores the agent payload
    app = LocalobsApp(reader, endpoint_url=receiver.url, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query_one(CallsTable).row_count > 0)
        statements.clear()
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, AgentsScreen))
        await until(pilot, lambda: "runs, newest first" in text_of(app, "#agents-title"))
        await pilot.pause(0.3)  # within the screen's reload interval: a second read is a double
        assert sum("run_summaries_by_start" in sql for sql in statements) == 1


_LONG_QUERY = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000000)"
    " SELECT count(*) FROM n"
)


class _Host(App[None]):
    """A Textual app whose thread workers read through a reader pool, as the screens do."""

    def __init__(self, pool: ReaderPool) -> None:
        super().__init__()
        self.pool = pool
        self.outcomes: list[str] = []

    @work(thread=True)
    def read(self, sql: str) -> None:
        try:
            with self.pool.connection() as conn:
                conn.execute(sql).fetchone()
        except QueryCancelled:
            self.outcomes.append("cancelled")
            raise
        self.outcomes.append("done")


async def test_a_cancelled_workers_query_is_interrupted_and_its_connection_dropped(
    store: Store,
) -> None:
    opened: list[sqlite3.Connection] = []

    def reader() -> sqlite3.Connection:
        opened.append(store.reader())
        return opened[-1]

    app = _Host(ReaderPool(reader))
    async with app.run_test() as pilot:
        long = app.read(_LONG_QUERY)  # seconds of work when left alone
        await wait_until(pilot, lambda: len(opened) == 1)
        app.pool.interrupt_cancelled()  # not cancelled: left running
        await pilot.pause(0.2)
        assert app.outcomes == []
        long.cancel()  # as Textual does when the screen is closed or a newer query replaces it
        app.pool.interrupt_cancelled()
        await wait_until(pilot, lambda: app.outcomes == ["cancelled"], timeout=5)
        app.read("SELECT 1")  # the next borrower gets a fresh connection, not interrupted
        await wait_until(pilot, lambda: app.outcomes == ["cancelled", "done"], timeout=5)
        assert len(opened) == 2


async def test_the_agents_list_is_kept_and_read_anew_when_opened_again(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await until(pilot, lambda: row_count(app, "#runs") == 2)
        first = app.screen
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CallsScreen))
        response = httpx.post(  # two more runs while it is not shown
            f"{receiver.url}/v1/traces",
            content=openinference_conversation(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200
        await pilot.press("g")
        await until(pilot, lambda: app.screen is first)  # the same screen, not composed again
        await until(pilot, lambda: row_count(app, "#runs") == 4)
        assert "4 runs" in text_of(app, "#agents-title")
        # From a run opened in it, `g` shows a list again (another, as this one is underneath).
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, AgentsScreen) and app.screen is not first)
        await until(pilot, lambda: row_count(app, "#runs") == 4)
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.screen is first)


def test_a_gate_whose_query_was_abandoned_starts_the_next_one() -> None:
    """A hidden screen cancels its read: the gate must not wait for a result that never comes."""
    gate = RefreshGate()
    assert gate.request()
    assert not gate.request()  # one in flight: held back
    gate.abandon()
    assert gate.pump()  # shown again: it reads at once


async def test_a_read_that_finds_the_same_runs_leaves_the_table_as_it_is(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    app = viewer(receiver, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await until(pilot, lambda: row_count(app, "#runs") == 2)
        rows = list(table(app, "#runs").rows.values())
        await pilot.press("escape", "g")  # shown again: read anew, the same two runs found
        await until(pilot, lambda: isinstance(app.screen, AgentsScreen))
        await until(pilot, lambda: "2 runs" in text_of(app, "#agents-title"))
        assert all(a is b for a, b in zip(table(app, "#runs").rows.values(), rows, strict=True))
