"""The lists' traces kept between reads (agent_tree.RecentTraces): the same results as a fresh
read, a trace that gained spans read again at once, one changed in place within MAX_AGE_S."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from localobs.store import Store
from localobs.store.agent_tree import RecentTraces
from localobs.store.agents import list_runs
from localobs.store.conversations import list_conversations
from tests.query_rows import call, span, submit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def turn(trace: int, start_ms: float, *calls: int) -> list[tuple[object, ...]]:
    root = span(
        trace, trace * 100, "invoke_agent bot", start_ms, 50, span_role="agent",
        operation=None, agent_name="bot", conversation_id="visitor-1",
    )  # fmt: skip
    return [root] + [
        call(trace, trace * 100 + number, start_ms + number, 5, parent=trace * 100)
        for number in calls
    ]


def test_kept_traces_read_like_fresh_ones_and_follow_changes(tmp_path: Path) -> None:
    store = Store(tmp_path / "recent.db")
    store.start_writer()
    try:
        submit(store, turn(1, 0, 1) + turn(2, 100, 1, 2))
        clock = Clock()
        recent = RecentTraces(clock)
        with store.reader() as conn:
            assert list_conversations(conn, recent=recent) == list_conversations(conn)
            assert list_runs(conn, recent=recent) == list_runs(conn)
            (before,) = list_conversations(conn, recent=recent)
            assert (before.turns, before.model_calls) == (2, 3)

        submit(store, [call(2, 203, 103, 5, parent=200)])  # a span more: read again at once
        with store.reader() as conn:
            (grown,) = list_conversations(conn, recent=recent)
            assert grown.model_calls == 4 and grown == list_conversations(conn)[0]

        writer = sqlite3.connect(store.path)  # a late update in place (as a log event's patch)
        writer.execute("UPDATE spans SET input_tokens = 1000 WHERE name LIKE 'chat%'")
        writer.commit()
        writer.close()
        with store.reader() as conn:
            (kept,) = list_conversations(conn, recent=recent)
            assert kept.input_tokens == grown.input_tokens  # within MAX_AGE_S: still the kept
            clock.now += RecentTraces.MAX_AGE_S + 1
            (fresh,) = list_conversations(conn, recent=recent)
            assert fresh.input_tokens == 4000 == list_conversations(conn)[0].input_tokens
    finally:
        store.close()
