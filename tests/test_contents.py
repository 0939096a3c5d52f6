"""Message content stored once: a conversation's history, system prompt and answers are each one
`contents` row however often they are re-sent, the text comes back exactly (view, queries,
search), and retention gives the rows back when the last call using them goes."""

from __future__ import annotations

import sqlite3
import time

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.otlp_load import _SYSTEM_PROMPT, conversation_bodies
from localobs.store.call_filter import CallFilter
from localobs.store.call_text import CallTexts
from localobs.store.calls import get_call, list_calls
from localobs.store.contents import MESSAGES_SQL, content_generation, shared_ids_sql, split_list
from localobs.store.database import connect
from localobs.store.export import ExportFilter
from localobs.store.retention import PruneGoal, keep_trace, prune
from localobs.store.rollups import roll_up_all
from localobs.store.text_search import message_text, search_terms
from localobs.transfer.export import requests
from tests.conftest import RunningReceiver
from tests.test_export_roundtrip import _items, _span_key

TURNS = 6


@pytest.mark.parametrize(
    "text",
    [
        '[{"a": 1}, {"b": [1, 2, {"c": "x, ]}"}]}]',
        '[{"a":1},{"b":"q\\"u,o]te"}]',
        '[\n  {"a": 1},\n  {"b": 2}\n]',
        '["only one"]',
    ],
)
def test_a_list_splits_into_its_exact_elements(text: str) -> None:
    split = split_list(text)
    if text.startswith("[\n"):
        assert split is None  # whitespace inside the brackets: stored whole
        return
    assert split is not None
    sep, elements = split
    assert "[" + sep.join(elements) + "]" == text
    assert [orjson.loads(element) for element in elements] == orjson.loads(text)


@pytest.mark.parametrize("text", ["[]", '{"a": 1}', "[1, 2,3]", "not json", '[{"a": 1}'])
def test_other_values_are_stored_whole(text: str) -> None:
    assert split_list(text) is None


def send_conversation(receiver: RunningReceiver) -> list[list[str]]:
    bodies = conversation_bodies(1, TURNS, marker="zq")
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        for body, _words in bodies:
            assert client.post(f"{receiver.url}/v1/traces", content=body).status_code == 200
    return [words for _body, words in bodies]


def test_plain_sqlite_reads_the_text_that_was_sent(receiver: RunningReceiver) -> None:
    """Through the llm_calls view, byte for byte, with no localobs code on the read side."""
    bodies = conversation_bodies(1, 3, marker="plain")
    sent = []
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        for body, _words in bodies:
            assert client.post(f"{receiver.url}/v1/traces", content=body).status_code == 200
            request = ExportTraceServiceRequest.FromString(body)
            span = request.resource_spans[0].scope_spans[0].spans[0]
            attributes = {kv.key: kv.value.string_value for kv in span.attributes}
            sent.append(
                tuple(
                    attributes[f"gen_ai.{name}"]
                    for name in ("input.messages", "output.messages", "system_instructions")
                )
            )
    conn = sqlite3.connect(receiver.store.path)
    shown = conn.execute(
        "SELECT input_messages, output_messages, system_instructions FROM llm_calls"
        " ORDER BY call_id"
    ).fetchall()
    stored = conn.execute("SELECT typeof(input_messages) FROM spans").fetchall()
    conn.close()
    assert shown == sent
    assert {row[0] for row in stored} == {"blob"}  # references, not the text


def test_a_conversation_stores_each_message_once(receiver: RunningReceiver) -> None:
    words = send_conversation(receiver)
    conn = connect(receiver.store.path, readonly=True)
    stored = conn.execute("SELECT count(*), sum(length(text)) FROM contents").fetchone()
    # The system prompt and the tool definitions once, each user message once, each answer
    # once (sent again as history).
    assert stored[0] == 2 + TURNS + TURNS
    shown = conn.execute(
        "SELECT sum(length(input_messages) + length(output_messages)"
        " + length(system_instructions)) FROM llm_calls"
    ).fetchone()[0]
    last = list_calls(conn, limit=1)[0]
    detail = get_call(conn, last.call_id)
    assert detail is not None
    tools = len(detail.attributes["gen_ai.tool.definitions"])
    assert shown + TURNS * tools > 4 * stored[1]  # what the calls carry, against what is stored
    assert len(detail.input_messages) == 2 * TURNS - 1
    assert detail.system_instructions[0].content == _SYSTEM_PROMPT
    assert orjson.loads(detail.attributes["gen_ai.tool.definitions"])[0]["name"] == (
        "search_sessions"
    )
    assert "localobs.contents" not in detail.attributes
    assert words[-1][0] in (detail.input_messages[-1].parts[0].content or "")
    conn.close()


def test_search_finds_every_message_before_and_after_folding(receiver: RunningReceiver) -> None:
    words = send_conversation(receiver)
    conn = connect(receiver.store.path)
    for _ in range(2):
        for turn, (word,) in enumerate(words):
            found = list_calls(conn, CallFilter(text=word), limit=100)
            # A user message is in its own call and, as history, in every later one.
            assert len(found) == TURNS - turn, word
        roll_up_all(conn)
    conn.close()


def dangling(conn: sqlite3.Connection) -> int:
    """References to content rows that do not exist."""
    missing = conn.execute(
        f"SELECT count(*) FROM spans WHERE {shared_ids_sql()} IS NOT NULL"
        f" AND {shared_ids_sql()} NOT IN (SELECT id FROM contents)"
    ).fetchone()[0]
    for row in conn.execute(
        "SELECT input_messages, output_messages, system_instructions FROM spans"
    ):
        for value in row:
            if isinstance(value, bytes):
                refs = orjson.loads(value)
                for content in [refs] if isinstance(refs, int) else refs[1:]:
                    exists = conn.execute("SELECT 1 FROM contents WHERE id = ?", (content,))
                    missing += exists.fetchone() is None
    return missing


def test_retention_gives_contents_back(receiver: RunningReceiver) -> None:
    send_conversation(receiver)
    kept = conversation_bodies(1, 2, marker="kept")
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        for body, _words in kept:
            assert client.post(f"{receiver.url}/v1/traces", content=body).status_code == 200
    conn = connect(receiver.store.path)
    roll_up_all(conn)
    keep_trace(conn, list_calls(conn, CallFilter(text="keptc0t0"), limit=1)[0].trace_id, 0)
    before = conn.execute("SELECT count(*) FROM contents").fetchone()[0]

    pruned = prune(conn, receiver.store.path, PruneGoal(older_than_unix_nano=time.time_ns()))

    assert pruned.spans == TURNS
    # The kept conversation's system prompt, tool definitions, 2 questions and 2 answers stay.
    assert conn.execute("SELECT count(*) FROM contents").fetchone()[0] == 6 < before
    assert dangling(conn) == 0
    assert conn.execute("SELECT min(refs) FROM contents").fetchone()[0] > 0
    assert len(list_calls(conn, CallFilter(text="keptc0t1"), limit=10)) == 1
    conn.close()


def test_a_span_sent_again_counts_its_contents_once(receiver: RunningReceiver) -> None:
    """A retry in a different request stores nothing twice, and uses nothing twice: else its
    contents would outlive the span when retention deletes it."""
    body, _words = conversation_bodies(1, 1, marker="again")[0]
    again = ExportTraceServiceRequest.FromString(body)
    span = again.resource_spans[0].scope_spans[0].spans[0]
    twice = ExportTraceServiceRequest()
    twice.resource_spans.add().CopyFrom(again.resource_spans[0])
    twice.resource_spans[0].scope_spans[0].spans.add().CopyFrom(span)  # twice in one request
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        for payload in (body, twice.SerializeToString()):
            assert client.post(f"{receiver.url}/v1/traces", content=payload).status_code == 200
    conn = connect(receiver.store.path)
    assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] == 1
    assert {row[0] for row in conn.execute("SELECT refs FROM contents")} == {1}
    prune(conn, receiver.store.path, PruneGoal(older_than_unix_nano=time.time_ns()))
    assert conn.execute("SELECT count(*) FROM contents").fetchone()[0] == 0
    conn.close()


def test_export_gives_back_every_call_as_sent(receiver: RunningReceiver) -> None:
    """History, system prompt and tool definitions put back byte for byte."""
    bodies = conversation_bodies(2, 4, marker="export")
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        for body, _words in bodies:
            assert client.post(f"{receiver.url}/v1/traces", content=body).status_code == 200
    sent = [
        item
        for body, _words in bodies
        for item in _items("traces", ExportTraceServiceRequest.FromString(body))
    ]
    conn = connect(receiver.store.path, readonly=True)
    rebuilt = [
        item
        for page, request in requests(conn, ExportFilter())
        for item in _items(page.signal, request)
    ]
    conn.close()
    assert sorted(map(_span_key, rebuilt)) == sorted(map(_span_key, sent))


def test_the_text_index_reads_contents_as_the_expanded_columns_would(
    receiver: RunningReceiver,
) -> None:
    """The fold reads each content's text once (CallTexts) instead of expanding every call's
    columns: the words it indexes per call are those of the whole columns' text, and the cache
    is dropped when retention deletes contents (their ids may be given to new ones)."""
    send_conversation(receiver)
    conn = connect(receiver.store.path)
    expanded = f"SELECT rowid, {MESSAGES_SQL} FROM spans WHERE operation IS NOT NULL ORDER BY 1"
    raw = "SELECT rowid, input_messages, output_messages, system_instructions FROM spans"
    rows = conn.execute(raw + " WHERE operation IS NOT NULL ORDER BY 1").fetchall()
    texts = CallTexts()
    texts.load(conn, (value for row in rows for value in row[1:]))
    cached = {row[0]: texts.text(row[3], row[1], row[2]) for row in rows}
    for rowid, input_text, output_text, system_text in conn.execute(expanded):
        whole = message_text(system_text, input_text, output_text)
        assert search_terms(cached[rowid]) == search_terms(whole) != ()
    generation = content_generation(conn)
    prune(conn, receiver.store.path, PruneGoal(time.time_ns() + 1, None))  # every trace goes
    assert content_generation(conn) > generation
    texts.load(conn, [])
    assert texts.text(rows[0][3], rows[0][1], rows[0][2]) == ""  # nothing stale is kept
    conn.close()
