"""The agents and conversations lists read summaries the writer keeps (store/summaries.py):
they say what the detail views (which read the traces) say, follow late spans, derived rows
changed in place and retention, and a file from before them is summarized with its lists intact.

Everything goes through the real writer process; `summarized` waits until its idle job has
refreshed every trace named, so an assertion then reads ready rows, not the traces."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from localobs.store import Batch, Store
from localobs.store.agents import AgentRun, get_run, list_runs
from localobs.store.conversations import (
    ConversationSummary,
    get_conversation,
    list_conversations,
)
from localobs.store.database import connect, prepare_database
from localobs.store.retention import PruneGoal, prune
from localobs.store.schema import APPLICATION_ID, MIGRATIONS, SPAN_COLUMNS
from localobs.store.summaries import SummaryJob, summarize_all
from tests.query_rows import call, span, submit, trace_id

CONVERSATION = "visitor-1"


def run(trace: int, start_ms: float, *calls: int, conversation: str = CONVERSATION) -> list[Any]:
    """An agent run of the conversation, holding a model call for each of `calls`."""
    root = span(
        trace, trace * 100, "invoke_agent bot", start_ms, 50, span_role="agent",
        agent_name="bot", conversation_id=conversation,
    )  # fmt: skip
    return [root] + [
        call(trace, trace * 100 + number, start_ms + number, 5, parent=trace * 100)
        for number in calls
    ]


def summarized(store: Store) -> sqlite3.Connection:
    """A reader, once the writer has refreshed every trace it named (its lag, 5 ms after the
    last commit when idle)."""
    conn = store.reader()
    deadline = time.monotonic() + 10
    while conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0]:
        assert time.monotonic() < deadline, "the writer did not summarize the named traces"
        time.sleep(0.01)
    return conn


def stored_runs(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    rows = conn.execute("SELECT summary FROM run_summaries")
    return {fields["run_id"]: fields for fields in (json.loads(text) for (text,) in rows)}


def stored_conversation(conn: sqlite3.Connection, conversation_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT summary FROM conversation_summaries WHERE conversation_id = ?", (conversation_id,)
    ).fetchone()
    return json.loads(row[0]) if row else None


def as_detail_says(conn: sqlite3.Connection) -> tuple[list[AgentRun], list[ConversationSummary]]:
    """The lists as the detail views, read from the traces, compute each row."""
    runs = [detail.run for r in list_runs(conn) if (detail := get_run(conn, r.run_id))]
    conversations = [
        found.summary
        for c in list_conversations(conn)
        if (found := get_conversation(conn, c.conversation_id))
    ]
    return runs, conversations


def test_the_lists_are_the_summaries_the_writer_keeps(store: Store) -> None:
    submit(store, run(1, 0, 1) + run(2, 100, 1, 2) + run(3, 200, 1, conversation="other"))
    submit(store, [call(9, 900, 0, 5)])  # a plain chat call: no summary, nothing named
    with summarized(store) as conn:
        assert len(stored_runs(conn)) == 3
        assert conn.execute("SELECT count(*) FROM conversation_turns").fetchone()[0] == 3
        runs, conversations = list_runs(conn), list_conversations(conn)
        assert [r.run_id for r in runs] == [f"{n * 100:016x}" for n in (3, 2, 1)]
        assert [c.conversation_id for c in conversations] == ["other", CONVERSATION]
        assert (conversations[1].turns, conversations[1].model_calls) == (2, 3)
        assert (runs, conversations) == as_detail_says(conn)
        assert list_runs(conn, limit=1) == runs[:1]
        since = runs[1].start_time_unix_nano
        assert list_runs(conn, since_unix_nano=since) == runs[:2]


def test_a_span_after_its_run_refreshes_the_run_and_its_conversation(store: Store) -> None:
    submit(store, run(1, 0, 1))
    with summarized(store) as conn:
        (before,) = list_runs(conn)
        assert (before.model_calls, before.tool_calls) == (1, 0)
    # A tool step and a call exported after their run (neither says agent or conversation).
    tool = span(1, 150, "execute_tool search", 20, 5, parent=100, span_role="tool")
    submit(store, [tool, call(1, 151, 30, 5, parent=100, input_tokens=1000)])
    with store.reader() as conn:  # before the writer's refresh: read from the trace
        (now,) = list_runs(conn)
        assert (now.model_calls, now.tool_calls) == (2, 1)
    with summarized(store) as conn:
        assert list_runs(conn) == [now]
        stored = stored_runs(conn)[now.run_id]
        assert (stored["model_calls"], stored["tool_calls"], stored["input_tokens"]) == (
            2, 1, 1010,
        )  # fmt: skip
        conversation = stored_conversation(conn, CONVERSATION)
        assert conversation is not None and conversation["model_calls"] == 2
        assert as_detail_says(conn) == (list_runs(conn), list_conversations(conn))


def test_a_late_parent_makes_a_run_a_sub_agent_and_two_turns_one(store: Store) -> None:
    inner = span(
        1, 101, "invoke_agent helper", 10, 20, parent=100, span_role="agent",
        agent_name="helper", conversation_id=CONVERSATION,
    )  # fmt: skip
    submit(store, [inner, call(1, 102, 12, 5, parent=101)])
    with summarized(store) as conn:
        assert [r.agent_name for r in list_runs(conn)] == ["helper"]
    submit(store, run(1, 0))  # the outer run, its root exported last
    with summarized(store) as conn:
        (outer,) = list_runs(conn)
        assert (outer.agent_name, outer.sub_agents) == ("bot", ("helper",))
        assert outer.model_calls == 1
        (conversation,) = list_conversations(conn)
        assert (conversation.turns, conversation.model_calls) == (1, 1)
        assert as_detail_says(conn) == ([outer], [conversation])


def derived(number: int, start_ms: float, duration_ms: float, **values: Any) -> tuple[Any, ...]:
    """A span row derived from a coding agent's log event (as receiver/genai/derived.py makes)."""
    return span(1, number, values.pop("name", "turn"), start_ms, duration_ms, derived_from="logs",
                **values)  # fmt: skip


def submit_derived(store: Store, digest: str, rows: list[tuple[Any, ...]]) -> None:
    batch = Batch("logs", digest)
    batch.derived = rows
    store.submit(batch).result(timeout=30)


def test_a_derived_turn_stretched_and_filled_in_place_is_summarized_again(store: Store) -> None:
    turn = derived(1, 0, 10, span_role="agent", agent_name="claude-code")
    submit_derived(store, "first", [turn])
    with summarized(store) as conn:
        (first,) = list_runs(conn)
        assert (first.duration_ms, first.conversation_id, first.error) == (10, None, None)
    # A later event of the same turn: the stored row grows to cover it, and takes the
    # session id and the error it lacked.
    later = derived(
        1, 0, 40, span_role="agent", agent_name="claude-code", conversation_id="session-7",
        status=2, status_message="interrupted",
    )  # fmt: skip
    model_call = derived(
        2, 5, 30, name="chat", parent=1, span_role="llm", operation="chat", input_tokens=7
    )
    submit_derived(store, "second", [later, model_call])
    with summarized(store) as conn:
        (second,) = list_runs(conn)
        assert (second.duration_ms, second.model_calls, second.input_tokens) == (40, 1, 7)
        assert (second.conversation_id, second.error) == ("session-7", "interrupted")
        assert stored_runs(conn)[second.run_id]["duration_ms"] == 40
        (conversation,) = list_conversations(conn)
        assert conversation.conversation_id == "session-7"
        assert as_detail_says(conn) == ([second], [conversation])


def test_retention_takes_pruned_traces_out_of_the_summaries(store: Store) -> None:
    submit(store, run(1, 0, 1) + run(2, 10, 1, conversation="gone"))
    cutoff = time.time_ns()
    time.sleep(0.01)
    submit(store, run(3, 100, 1, 2))
    summarized(store).close()
    store.close()  # its writer stopped: the file is pruned from here, as `localobs prune` does
    conn = connect(store.path)
    pruned = prune(conn, store.path, PruneGoal(older_than_unix_nano=cutoff))
    assert pruned.traces == 2
    assert conn.execute("SELECT DISTINCT trace_id FROM run_summaries").fetchall() == [
        (trace_id(3),)
    ]
    assert stored_conversation(conn, "gone") is None
    kept = stored_conversation(conn, CONVERSATION)
    assert kept is not None and (kept["turns"], kept["model_calls"]) == (1, 2)
    (conversation,) = list_conversations(conn)
    assert conversation.turns == 1 and as_detail_says(conn)[1] == [conversation]
    conn.close()


def test_a_file_from_before_the_summaries_keeps_its_lists(tmp_path: Path) -> None:
    """Made with the migrations before this one and rows inserted as that release did: opened
    today, its lists read the same at once (from the traces) and once summarized."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    # The schema of the release before the summaries (whatever number the migration gets).
    before = next(n for n, sql in enumerate(MIGRATIONS) if "CREATE TABLE summary_dirty" in sql)
    for migration in MIGRATIONS[:before]:
        conn.executescript(migration)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {before}")
    rows = run(1, 0, 1) + run(2, 100, 1, 2) + run(3, 200, 1, conversation="other")
    marks = ", ".join("?" * len(SPAN_COLUMNS))
    conn.executemany(f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({marks})", rows)
    conn.close()
    fresh = Store(tmp_path / "new.db")
    fresh.start_writer()
    submit(fresh, rows)
    with summarized(fresh) as reader:
        expected = list_runs(reader), list_conversations(reader)
    fresh.close()

    prepare_database(path)
    conn = connect(path)
    assert conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0] == 3
    assert (list_runs(conn), list_conversations(conn)) == expected
    summarize_all(conn)
    assert conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0] == 0
    assert len(stored_runs(conn)) == 3
    assert (list_runs(conn), list_conversations(conn)) == expected
    assert len(expected[0]) == 3 and [c.turns for c in expected[1]] == [1, 2]
    conn.close()


def test_a_trace_no_summary_can_hold_is_left_out_and_the_others_go_on(store: Store) -> None:
    """A value of a type no summary can store (a blob where a name goes, written by another
    program) fails that trace alone: it leaves the waiting list, the others are summarized."""
    submit(store, run(1, 0, 1) + run(2, 100, 1))
    summarized(store).close()
    store.close()  # its writer stopped: another program edits the file
    conn = connect(store.path)
    conn.execute("UPDATE spans SET agent_name = x'00ff' WHERE trace_id = ?", (trace_id(1),))
    conn.executemany(
        "INSERT INTO summary_dirty (trace_id) VALUES (?)", [(trace_id(1),), (trace_id(2),)]
    )
    summarize_all(conn)  # returns: the trace that fails is not retried for ever
    assert conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0] == 0
    assert conn.execute("SELECT DISTINCT trace_id FROM run_summaries").fetchall() == [
        (trace_id(2),)
    ]
    (conversation,) = list_conversations(conn)
    assert (conversation.turns, conversation.model_calls) == (1, 1)
    conn.close()


def test_usage_joined_from_a_log_event_after_its_call_is_summarized_again(store: Store) -> None:
    """A GenAI event (here its usage) merged into a call stored earlier, in place."""
    submit(store, run(1, 0) + [call(1, 101, 1, 5, parent=100, input_tokens=None)])
    with summarized(store) as conn:
        assert list_runs(conn)[0].input_tokens is None
    batch = Batch("logs", "usage-event")
    batch.genai = [(trace_id(1), f"{101:016x}", json.dumps({"input_tokens": 42}))]
    store.submit(batch).result(timeout=30)
    with summarized(store) as conn:
        (refreshed,) = list_runs(conn)
        assert refreshed.input_tokens == 42
        assert stored_runs(conn)[refreshed.run_id]["input_tokens"] == 42
        assert list_conversations(conn)[0].input_tokens == 42


def test_the_job_is_due_only_while_traces_wait_and_overdue_after_its_lag(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    prepare_database(path)
    conn = connect(path)
    now = [0.0]
    job = SummaryJob(conn, clock=lambda: now[0])
    assert job.idle_timeout() is None and not job.overdue()
    conn.execute("INSERT INTO summary_dirty (trace_id) VALUES (?)", (trace_id(1),))
    assert job.idle_timeout() == SummaryJob.IDLE_S
    assert not job.overdue()  # a writer that never idles waits MAX_LAG_S at most
    now[0] += SummaryJob.MAX_LAG_S + 0.01
    assert job.overdue()
    assert job.step() is False  # done (the trace has no spans: nothing to keep)
    assert job.idle_timeout() is None and not job.overdue()
    conn.close()
