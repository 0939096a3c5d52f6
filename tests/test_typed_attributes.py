"""Typed attributes stored once: what a model call's typed columns hold exactly is left out of
`spans.attributes` (listed under `localobs.typed`), and every reader gets it back as sent."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from localobs.receiver.anyvalue import attributes
from localobs.receiver.genai.record import CALL_FIELDS
from localobs.receiver.genai.typed import drop_typed
from localobs.store.calls import get_call
from localobs.store.export import ExportFilter
from localobs.store.queries import list_spans
from localobs.store.typed_attributes import TYPED, TYPED_MARK
from localobs.transfer.export import requests
from tests.conftest import RunningReceiver
from tests.otlp_samples import kv, trace_request

EXACT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 120,
    "gen_ai.usage.output_tokens": 42,
    "gen_ai.request.temperature": 0.2,
    "gen_ai.conversation.id": "conv-1",
    "gen_ai.agent.name": "planner",
}
# Values whose column does not give them back as sent: they must stay in the attributes.
INEXACT = {
    "gen_ai.request.max_tokens": 256.0,  # a double: the column holds the integer 256
    "gen_ai.request.temperature": 0.30000000000000004,  # SQLite's JSON writes 0.3
    "gen_ai.usage.input_tokens": "120",  # a string: the column holds the integer
    "gen_ai.request.model": "gpt-4o",
}


def _send(receiver: RunningReceiver, sent: dict[str, object]) -> ExportTraceServiceRequest:
    request = trace_request(1, name_prefix="chat")
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.extend(kv(key, value) for key, value in sent.items())
    response = httpx.post(
        f"{receiver.url}/v1/traces",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    return request


def _stored(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    (text,) = conn.execute("SELECT attributes FROM spans").fetchone()
    conn.close()
    return dict(orjson.loads(text))


def _exported(receiver: RunningReceiver) -> dict[str, object]:
    conn = receiver.store.reader()
    spans = [
        span
        for _page, request in requests(conn, ExportFilter())
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert len(spans) == 1
    return attributes(spans[0].attributes)


def test_exact_values_are_stored_once_and_read_back_as_sent(receiver: RunningReceiver) -> None:
    request = _send(receiver, EXACT)
    sent = attributes(request.resource_spans[0].scope_spans[0].spans[0].attributes)
    stored = _stored(receiver.store.path)
    assert not set(EXACT) & set(stored)
    assert sorted(str(stored[TYPED_MARK])) == sorted("opmriutca")
    assert stored["index"] == 0
    assert _exported(receiver) == sent  # types too: 120 an int, 0.2 a double
    conn = receiver.store.reader()
    (span,) = list_spans(conn)
    assert span.attributes == sent
    call_id = conn.execute("SELECT call_id FROM llm_calls").fetchone()[0]
    detail = get_call(conn, call_id)
    assert detail is not None
    assert {key: detail.attributes[key] for key in EXACT} == EXACT
    assert TYPED_MARK not in detail.attributes


def test_values_a_column_would_change_stay_in_the_attributes(receiver: RunningReceiver) -> None:
    request = _send(receiver, INEXACT)
    sent = attributes(request.resource_spans[0].scope_spans[0].spans[0].attributes)
    stored = _stored(receiver.store.path)
    assert {key: stored[key] for key in INEXACT if key != "gen_ai.request.model"} == {
        key: value for key, value in INEXACT.items() if key != "gen_ai.request.model"
    }
    assert stored[TYPED_MARK] == "m"
    assert _exported(receiver) == sent


def test_a_span_sent_with_the_mark_keeps_every_attribute() -> None:
    tail = tuple({"operation": "chat", "request_model": "m"}.get(field) for field in CALL_FIELDS)
    sent = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", TYPED_MARK: "x"}
    kept = dict(sent)
    drop_typed(kept, tail)
    assert kept == sent


def test_a_column_cleared_after_normalizing_keeps_its_attribute() -> None:
    """Logfire's stream request span stops being a call (operation cleared): the attribute stays."""
    tail = tuple({"request_model": "m"}.get(field) for field in CALL_FIELDS)
    a = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    drop_typed(a, tail)
    assert a == {"gen_ai.operation.name": "chat", TYPED_MARK: "m"}


def test_the_letters_table_in_the_schema_doc_is_the_code() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "schema.md").read_text()
    rows = re.findall(
        r"^\| `(\w)`(?: / `(\w)`)? \| `([^`]+)`(?: / `([^`]+)`)? \| `(\w+)` \|$", doc, re.M
    )
    documented = {}
    for first, second, key, second_key, column in rows:
        documented[first] = (key, column)
        if second:
            documented[second] = (second_key, column)
    assert documented == TYPED


def test_the_record_is_the_same_in_every_process() -> None:
    """Letters in the order the attributes were sent: not in a set's order, which changes with
    each process's string hashing (a row stored twice, say by an import, must come out equal)."""
    script = (
        "from localobs.receiver.genai.record import CALL_FIELDS;"
        "from localobs.receiver.genai.typed import drop_typed;"
        "from localobs.store.typed_attributes import TYPED, TYPED_MARK;"
        "a = {key: 1 for key, _column in TYPED.values()};"
        "tail = tuple(1 for _field in CALL_FIELDS);"
        "drop_typed(a, tail); print(a[TYPED_MARK])"
    )
    records = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in range(6)
    }
    assert records == {"".join(TYPED)}
