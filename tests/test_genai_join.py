"""Log events join their call's row whatever arrives first, across batches and restarts."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from localobs.receiver.genai import normalize_log_event, normalize_span
from localobs.store import genai_join
from localobs.store.genai_join import GenAIJoin
from localobs.store.schema import SPAN_COLUMNS, migrate
from tests.fixtures.genai.capture import SYSTEM_PROMPT, USER_PROMPT
from tests.fixtures.genai.load import fixture, log_records, spans

_INSERT_SPAN = (
    f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({', '.join('?' * len(SPAN_COLUMNS))})"
)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(tmp_path / "join.db", isolation_level=None)
    migrate(connection)
    yield connection
    connection.close()


def span_row(trace_id: str, span_id: str, call: tuple[Any, ...] | None) -> tuple[Any, ...]:
    head: tuple[Any, ...] = (trace_id, span_id, None, None, 0, "chat smollm2", 3, "svc", "scope")
    head += (1, 1, 10, 20, 0, None, "{}", None, None, 0, 0, 0)
    # A hand-built call may stop at the LLM-call fields: the agent fields are then NULL.
    call = call or ()
    return head + call + (None,) * (len(SPAN_COLUMNS) - len(head) - len(call))


def insert_spans(conn: sqlite3.Connection, join: GenAIJoin, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(_INSERT_SPAN, rows)
    join.spans_inserted(conn, rows)


def call_row(conn: sqlite3.Connection, span_id: str) -> dict[str, Any]:
    cursor = conn.execute("SELECT * FROM llm_calls WHERE span_id = ?", (span_id,))
    names = [column[0] for column in cursor.description]
    row = cursor.fetchone()
    assert row is not None, f"no call for {span_id}"
    return dict(zip(names, row, strict=True))


def texts(column: str) -> list[str]:
    return [part["content"] for message in orjson.loads(column) for part in message["parts"]]


def captured(name: str) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str]]]:
    """A fixture's span rows and log patches, as the receiver would hand them to the writer."""
    rows = []
    for span in spans(name):
        attributes = copy.deepcopy(span.attributes)
        call = normalize_span(
            span.name, attributes, span.events, span.start_ns, span.end_ns, span.status_code
        )
        rows.append(span_row(span.trace_id, span.span_id, call))
    patches = []
    for record in log_records(name):
        patch = normalize_log_event(record.event_name, record.attributes, record.body)
        assert patch is not None
        patches.append((record.trace_id, record.span_id, patch))
    return rows, patches


@pytest.mark.parametrize("name", ["openai_v2_event_only", "openai_v2_default"])
@pytest.mark.parametrize("spans_first", [True, False], ids=["spans-first", "logs-first"])
def test_captured_events_complete_their_calls(
    conn: sqlite3.Connection, name: str, spans_first: bool
) -> None:
    rows, patches = captured(name)
    join = GenAIJoin(conn)
    if spans_first:
        insert_spans(conn, join, rows)
        join.logs_inserted(conn, patches)
    else:
        # one log batch per record: per-message events keep their order across batches
        for patch in patches:
            join.logs_inserted(conn, [patch])
        assert join.waiting == 2
        insert_spans(conn, join, rows)
    assert join.waiting == 0
    assert conn.execute("SELECT count(*) FROM genai_pending").fetchone()[0] == 0
    answers = fixture(name)["calls"]
    for row, answer in zip(rows[:2], answers[:2], strict=True):
        call = call_row(conn, row[1])
        assert texts(call["input_messages"]) == [SYSTEM_PROMPT, USER_PROMPT]
        assert texts(call["output_messages"]) == [answer["text"]]
        assert call["dialect"] == "genai_events"
        assert call["request_model"] == "smollm2"
    assert call_row(conn, rows[0][1])["input_tokens"] == answers[0]["usage"]["prompt_tokens"]


def test_the_span_wins_and_choices_are_ordered(conn: sqlite3.Connection) -> None:
    join = GenAIJoin(conn)
    call: tuple[Any, ...] = ("llm", "chat", "openai", "m", "m", None, 3, 4, None, None, None)
    call += ('["stop"]', None, None, None, None, "genai_legacy")
    insert_spans(conn, join, [span_row("t" * 32, "a" * 16, call)])

    def choice(index: int, text: str) -> tuple[str, str, str]:
        body = {"index": index, "finish_reason": "length", "message": {"content": text}}
        patch = normalize_log_event("gen_ai.choice", {"gen_ai.system": "other"}, body)
        assert patch is not None
        return ("t" * 32, "a" * 16, patch)

    join.logs_inserted(conn, [choice(1, "second"), choice(0, "first")])
    merged = call_row(conn, "a" * 16)
    assert texts(merged["output_messages"]) == ["first", "second"]
    assert merged["provider"] == "openai"  # the span's own value wins
    assert merged["finish_reasons"] == '["stop"]'
    assert merged["dialect"] == "genai_events"


def test_waiting_events_survive_a_restart(conn: sqlite3.Connection) -> None:
    patch = normalize_log_event("gen_ai.user.message", {}, {"content": "Hello"})
    assert patch is not None
    GenAIJoin(conn).logs_inserted(conn, [("t" * 32, "b" * 16, patch)])
    restarted = GenAIJoin(conn)
    assert restarted.waiting == 1
    insert_spans(conn, restarted, [span_row("t" * 32, "b" * 16, None)])
    merged = call_row(conn, "b" * 16)  # the events alone make it a call
    assert (merged["operation"], texts(merged["input_messages"])) == ("chat", ["Hello"])
    assert restarted.waiting == 0


def test_same_span_id_in_another_trace_is_not_joined(conn: sqlite3.Connection) -> None:
    patch = normalize_log_event("gen_ai.user.message", {}, {"content": "Hello"})
    assert patch is not None
    join = GenAIJoin(conn)
    join.logs_inserted(conn, [("t" * 32, "c" * 16, patch)])
    insert_spans(conn, join, [span_row("u" * 32, "c" * 16, None)])
    assert join.waiting == 1
    assert conn.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == 0


def test_spans_whose_events_never_come_cost_no_lookup(conn: sqlite3.Connection) -> None:
    join = GenAIJoin(conn)

    class Untouchable(list[tuple[Any, ...]]):
        def __iter__(self) -> Iterator[tuple[Any, ...]]:
            raise AssertionError("rows were scanned although nothing waits")

    join.spans_inserted(conn, Untouchable())


def test_pending_keys_are_bounded(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(genai_join, "MAX_PENDING_KEYS", 10)
    patch = normalize_log_event("gen_ai.user.message", {}, {"content": "x"})
    assert patch is not None
    join = GenAIJoin(conn)
    for i in range(11):
        join.logs_inserted(conn, [("t" * 32, f"{i:016x}", patch)])
    assert join.waiting == 5
    # the oldest were given up, the newest still join
    kept = {row[0] for row in conn.execute("SELECT DISTINCT span_id FROM genai_pending")}
    assert kept == {f"{i:016x}" for i in range(6, 11)}
