"""TTFT from every signal in use, in milliseconds, with the signal it came from; a "TTFT" that is
the whole duration of a non-streamed call is none.

Payloads are the shapes each library sends (their attribute names looked up in their sources:
OpenLIT's semcov, Langfuse's span attributes, the AI SDK's telemetry); the Vercel AI SDK's own
spans are also tested for real in tests/test_vercel_ai.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from localobs.cli import main
from localobs.receiver.genai import normalize_log_event
from localobs.store.calls import get_call, list_calls
from localobs.tui.context import ViewerContext
from localobs.tui.refresh import ReaderPool
from localobs.tui.screens.call_detail import facts_content
from tests.conftest import RunningReceiver
from tests.fixtures.genai.check import END, START, run

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
STREAMED = {**CHAT, "gen_ai.request.stream": True}
AI_STREAM = {"ai.operationId": "ai.streamText.doStream", "ai.model.id": "m"}
AI_GENERATE = {"ai.operationId": "ai.generateText.doGenerate", "ai.model.id": "m"}
START_ISO = datetime.fromtimestamp(START / 1e9, UTC)


def _at(ms: float) -> int:
    return START + int(ms * 1_000_000)


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(_at(ms) / 1e9, UTC).isoformat()


SOURCES: list[tuple[str, dict[str, Any], list[dict[str, Any]], str]] = [
    ("semconv", {**CHAT, "gen_ai.response.time_to_first_chunk": 0.3}, [],
     "gen_ai.response.time_to_first_chunk"),
    ("client metric name", {**CHAT, "gen_ai.client.operation.time_to_first_chunk": 0.3}, [],
     "gen_ai.client.operation.time_to_first_chunk"),
    ("inference metric name", {**CHAT, "gen_ai.client.inference.time_to_first_chunk": 0.3}, [],
     "gen_ai.client.inference.time_to_first_chunk"),
    ("server metric name", {**CHAT, "gen_ai.server.time_to_first_token": 0.3}, [],
     "gen_ai.server.time_to_first_token"),
    ("openlit", {**CHAT, "gen_ai.request.is_stream": True, "gen_ai.server.ttft": 0.3}, [],
     "gen_ai.server.ttft"),
    ("vercel ms", {**AI_STREAM, "ai.response.msToFirstChunk": 300.0}, [],
     "ai.response.msToFirstChunk"),
    ("vercel event", AI_STREAM,
     [{"name": "ai.stream.firstChunk", "time_unix_nano": _at(300), "attributes": {}}],
     "event ai.stream.firstChunk"),
    ("langfuse json-quoted", {**CHAT, "langfuse.observation.completion_start_time":
                              json.dumps(_iso(300))}, [],
     "langfuse.observation.completion_start_time"),
    ("langfuse plain", {**CHAT, "langfuse.observation.completion_start_time": _iso(300)}, [],
     "langfuse.observation.completion_start_time"),
    ("openinference event", {**CHAT},
     [{"name": "First Token Stream Event", "time_unix_nano": _at(300), "attributes": {}}],
     "event First Token Stream Event"),
    ("openllmetry chunk events", {**CHAT},
     [{"name": "gen_ai.content.completion.chunk", "time_unix_nano": _at(300 + i * 50),
       "attributes": {}} for i in range(3)],
     "event gen_ai.content.completion.chunk"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("attributes", "events", "source"),
    [case[1:] for case in SOURCES],
    ids=[case[0] for case in SOURCES],
)
def test_each_signal_gives_ttft_in_ms_with_its_source(
    attributes: dict[str, Any], events: list[dict[str, Any]], source: str
) -> None:
    row, _ = run(attributes, events)
    assert row is not None
    assert row["ttft_ms"] == pytest.approx(300.0, abs=0.01)
    assert row["ttft_source"] == source


def test_a_signal_of_the_conventions_wins_over_events() -> None:
    events = [{"name": "First Token Stream Event", "time_unix_nano": _at(900), "attributes": {}}]
    row, _ = run({**CHAT, "gen_ai.response.time_to_first_chunk": 0.3}, events)
    assert row is not None
    assert (row["ttft_ms"], row["ttft_source"]) == (300.0, "gen_ai.response.time_to_first_chunk")


# The span lasts 2 s: the tolerance is max(5 ms, 1 % of 2000 ms) = 20 ms.
@pytest.mark.parametrize(
    ("attributes", "ttft_ms"),
    [
        # OpenLIT reports a non-streamed call's whole duration as its TTFT.
        ({**CHAT, "gen_ai.request.is_stream": False, "gen_ai.server.ttft": 2.0}, None),
        ({**CHAT, "gen_ai.server.ttft": 1.99}, None),  # 10 ms short: the same call, rounded
        ({**AI_GENERATE, "ai.response.msToFirstChunk": 1995.0}, None),
        ({**CHAT, "gen_ai.server.ttft": 1.9}, 1900.0),  # 100 ms before the end: a first chunk
        ({**STREAMED, "gen_ai.server.ttft": 1.999}, 1999.0),  # streamed: one late chunk is real
        ({**AI_STREAM, "ai.response.msToFirstChunk": 1999.0}, 1999.0),
        ({**STREAMED, "gen_ai.response.time_to_first_chunk": 2.5}, None),  # longer than the span
        ({**CHAT, "langfuse.observation.completion_start_time": _iso(-5)}, None),  # before start
    ],
    ids=[
        "openlit non-streamed",
        "rounded whole duration",
        "vercel doGenerate",
        "earlier than the end",
        "streamed one late chunk",
        "vercel doStream late chunk",
        "longer than the span",
        "before the span",
    ],
)
def test_the_whole_duration_of_a_non_streamed_call_is_no_ttft(
    attributes: dict[str, Any], ttft_ms: float | None
) -> None:
    row, _ = run(attributes)
    assert row is not None
    assert row["ttft_ms"] == (None if ttft_ms is None else pytest.approx(ttft_ms))
    assert (row["ttft_source"] is None) == (ttft_ms is None)


def test_spans_that_are_no_model_call_get_no_ttft() -> None:
    row, _ = run({"ai.operationId": "ai.streamText", "ai.stream.msToFirstChunk": 300.0})
    assert row is not None
    assert row["span_role"] == "agent"
    assert (row["ttft_ms"], row["ttft_source"]) == (None, None)


def _span(span_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        "traceId": "ab" * 16,
        "spanId": span_id,
        "name": "chat m",
        "kind": 3,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(END),
        "attributes": [
            {"key": key, "value": {"doubleValue": value}}
            if type(value) is float
            else {"key": key, "value": {"stringValue": value}}
            for key, value in attributes.items()
        ],
    }


def test_the_source_reaches_the_call_list_the_detail_and_calls_json(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    spans = [
        _span("01" * 8, {**CHAT, "gen_ai.server.ttft": 0.25}),
        _span("02" * 8, {**CHAT, "gen_ai.client.operation.time_to_first_chunk": 0.5}),
        _span("03" * 8, {**CHAT, "gen_ai.server.ttft": 2.0}),  # the whole call: no TTFT
    ]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    response = httpx.post(f"{receiver.url}/v1/traces", json=body)
    assert response.status_code == 200, response.text
    conn = receiver.store.reader()
    try:
        found = {call.span_id: call for call in list_calls(conn)}
        detail = get_call(conn, found["01" * 8].call_id)
    finally:
        conn.close()
    assert (found["01" * 8].ttft_ms, found["01" * 8].ttft_source) == (250.0, "gen_ai.server.ttft")
    assert found["02" * 8].ttft_source == "gen_ai.client.operation.time_to_first_chunk"
    assert (found["03" * 8].ttft_ms, found["03" * 8].ttft_source) == (None, None)
    assert detail is not None and detail.ttft_source == "gen_ai.server.ttft"
    ctx = ViewerContext(ReaderPool(receiver.store.reader), lambda: 0, UTC, None, tmp_path, None)
    try:
        lines = facts_content(detail, ctx).plain.splitlines()
    finally:
        ctx.readers.close()
    assert "time to first tok 250 ms  (gen_ai.server.ttft)" in lines

    shown = CliRunner().invoke(main, ["calls", "--json", "--db", str(receiver.store.path)])
    assert shown.exit_code == 0, shown.output
    by_span = {call["span_id"]: call for call in json.loads(shown.output)}
    assert by_span["01" * 8]["ttft_source"] == "gen_ai.server.ttft"
    assert by_span["02" * 8]["ttft_ms"] == 500.0
    assert by_span["03" * 8]["ttft_ms"] is None and by_span["03" * 8]["ttft_source"] is None


def test_a_details_log_event_brings_its_ttft_and_source_to_the_call() -> None:
    patch = normalize_log_event(
        "gen_ai.client.inference.operation.details",
        {**CHAT, "gen_ai.client.operation.time_to_first_chunk": 0.2},
        None,
    )
    assert patch is not None
    found = json.loads(patch)
    assert (found["ttft_ms"], found["ttft_source"]) == (
        200.0,
        "gen_ai.client.operation.time_to_first_chunk",
    )


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+14:00", "not a date", "1e400", "nan", "", True, [1], 1e30, -5],
)
def test_a_completion_start_time_that_is_no_time_in_the_span_gives_no_ttft(value: Any) -> None:
    row, _ = run({**CHAT, "langfuse.observation.completion_start_time": value})
    assert row is not None  # the call is still read
    assert (row["ttft_ms"], row["ttft_source"]) == (None, None)


def test_completion_start_time_as_epoch_numbers() -> None:
    for value in (_at(300) / 1e9, _at(300) / 1e6, _at(300)):
        row, _ = run({**CHAT, "langfuse.observation.completion_start_time": value})
        assert row is not None
        assert row["ttft_ms"] == pytest.approx(300.0, abs=0.01)
