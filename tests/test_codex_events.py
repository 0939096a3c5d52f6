"""Codex's log events (captured from the real CLI: tests/fixtures/codex) to calls, tool steps and
turns, and the event-name rule that lets them be read at all. The real CLI runs in
test_codex_cli.py; these replay its captured shapes, and hostile variants of them."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from localobs.receiver.anyvalue import attributes
from localobs.receiver.genai import codex
from localobs.receiver.genai.client_events import MAPPERS
from localobs.receiver.genai.derived import DerivedSpan, LogEvent, span_row
from localobs.receiver.logs import decode_logs
from localobs.store.agents import get_run, list_runs
from localobs.store.calls import list_calls
from localobs.store.conversations import get_conversation
from tests.codex_cli import TRANSPORTS, codex_config, fixture_path
from tests.conftest import RunningReceiver
from tests.hostile import CLEAR, ERROR, PROMPT

README = Path(__file__).resolve().parents[1] / "README.md"
CONVERSATION = "conv-1"
MS = 1_000_000
TURN = "ab" * 16


def _requests(transport: str) -> list[ExportLogsServiceRequest]:
    data = json.loads(fixture_path(transport).read_text())
    return [ParseDict(body, ExportLogsServiceRequest()) for body in data["logs"]]


def _records(transport: str) -> list[LogRecord]:
    return [
        record
        for request in _requests(transport)
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]


def _captured_events(transport: str) -> list[LogEvent]:
    events = []
    for record in _records(transport):
        attrs = attributes(record.attributes)
        name = attrs.get("event.name")
        if isinstance(name, str):
            events.append(
                LogEvent(
                    event_name=name,
                    attributes=attrs,
                    body=None,
                    time_unix_nano=record.observed_time_unix_nano,
                    service_name="codex_exec",
                    trace_id=record.trace_id.hex() or None,
                    span_id=record.span_id.hex() or None,
                )
            )
    return events


def _map(mapper: codex.CodexMapper, events: list[LogEvent]) -> list[DerivedSpan]:
    rows = [row for event in events for row in mapper(event)]
    for row in rows:  # every row is one the writer takes (no unknown call field)
        span_row(row, "codex_exec", "codex_otel.log_only", (1, 1))
    return rows


def _latest(rows: list[DerivedSpan]) -> dict[str, DerivedSpan]:
    """Rows by span id, the first of each kept (the writer inserts once, then only widens)."""
    found: dict[str, DerivedSpan] = {}
    for row in rows:
        found.setdefault(row.span_id, row)
    return found


def test_every_codex_event_name_is_registered_with_the_one_mapper() -> None:
    assert {name for name, mapper in MAPPERS.items() if mapper is codex.MAPPER} == set(
        codex.EVENT_NAMES
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_captured_run_maps_to_a_turn_two_calls_and_a_tool_step(transport: str) -> None:
    events = _captured_events(transport)
    rows = _latest(_map(codex.CodexMapper(), events))
    by_role: dict[str, list[DerivedSpan]] = {}
    for row in rows.values():
        by_role.setdefault(row.genai["span_role"], []).append(row)
    (run,) = by_role["agent"]
    calls = sorted(by_role["llm"], key=lambda row: row.start_unix_nano)
    (tool,) = by_role["tool"]
    conversation = events[0].attributes["conversation.id"]
    assert run.genai["conversation_id"] == conversation
    assert run.genai["agent_name"] == "Codex" and run.parent_span_id is None
    assert json.loads(run.genai["input_messages"])[0]["parts"][0]["content"] == (
        "Run echo hi and tell me what it printed."
    )
    assert all(row.parent_span_id == run.span_id for row in (*calls, tool))
    assert len({row.trace_id for row in rows.values()}) == 1
    assert [
        (
            call.genai["input_tokens"],
            call.genai["output_tokens"],
            call.genai["cache_read_tokens"],
            call.genai["reasoning_tokens"],
        )
        for call in calls
    ] == [(321, 17, 64, 5), (402, 9, 256, 3)]
    assert all(call.genai["request_model"] == "standin-model" for call in calls)
    assert all(call.genai["provider"] == "Stand-in" for call in calls)
    # A call runs from its request's start (the request's time less its duration: to the
    # response headers over HTTP, to sending it over a WebSocket) to the completion that carried
    # its tokens. (Over a WebSocket, Codex first sends a warm-up request that never completes.)
    pairs, request = [], None
    for event in events:
        if event.event_name in ("codex.api_request", "codex.websocket_request"):
            request = event
        elif "input_token_count" in event.attributes:
            pairs.append((request, event))
    assert len(pairs) == 2
    for call, (request, completion) in zip(calls, pairs, strict=True):
        assert request is not None
        took = int(request.attributes["duration_ms"]) * 1_000_000
        assert call.start_unix_nano == request.time_unix_nano - took
        assert call.end_unix_nano == completion.time_unix_nano
        # its TTFT: to the response headers, then to the first output item (both Codex's)
        ttft = int(request.attributes["duration_ms"]) + int(completion.attributes["ttft_ms"])
        assert ttft > 0 and call.genai["ttft_ms"] == ttft
        assert call.genai["ttft_source"] == codex.TTFT_SOURCE
    assert tool.genai["tool_decision"] == "approved" and tool.status_code == 0
    assert tool.genai["tool_arguments"] == '{"cmd": "echo hi"}'
    (result,) = [event for event in events if event.event_name == "codex.tool_result"]
    took = int(result.attributes["duration_ms"]) * 1_000_000
    assert tool.end_unix_nano - tool.start_unix_nano == took


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_same_events_derive_the_same_ids(transport: str) -> None:
    events = _captured_events(transport)
    first = _latest(_map(codex.CodexMapper(), events))
    again = _latest(_map(codex.CodexMapper(), events))
    assert first.keys() == again.keys()


def _event(name: str, time_ms: int, trace_id: str | None = TURN, **attrs: Any) -> LogEvent:
    return LogEvent(
        event_name=name,
        attributes={"event.name": name, "conversation.id": CONVERSATION, **attrs},
        body=None,
        time_unix_nano=time_ms * 1_000_000,
        service_name="codex_exec",
        trace_id=trace_id,
        span_id=f"{time_ms:016x}" if trace_id else None,
    )


def _request(time_ms: int, **attrs: Any) -> LogEvent:
    base = {"duration_ms": "40", "http.response.status_code": 200, "model": "gpt-5"}
    return _event("codex.api_request", time_ms, **{**base, **attrs})


def _completed(time_ms: int, **attrs: Any) -> LogEvent:
    counts = {"input_token_count": "10", "output_token_count": "2", "model": "gpt-5"}
    return _event(
        "codex.sse_event", time_ms, None, **{"event.kind": "response.completed", **counts, **attrs}
    )


def _calls(rows: list[DerivedSpan]) -> list[DerivedSpan]:
    return [row for row in _latest(rows).values() if row.genai["span_role"] == "llm"]


def test_a_failed_request_is_a_failed_call_and_its_retry_a_good_one() -> None:
    mapper = codex.CodexMapper()
    rows = _map(
        mapper,
        [
            _request(1000, **{"http.response.status_code": 429, "error.message": "slow down"}),
            _request(2000, attempt=1),
            _completed(2100),
        ],
    )
    failed, good = sorted(_calls(rows), key=lambda row: row.start_unix_nano)
    assert (failed.status_code, failed.status_message, failed.genai["error_type"]) == (
        2,
        "slow down",
        "429",
    )
    assert failed.genai["input_tokens"] is None
    assert (good.status_code, good.genai["input_tokens"]) == (0, 10)
    assert good.end_unix_nano - good.start_unix_nano == 140_000_000


@pytest.mark.parametrize(
    ("after_headers", "ttft"), [("30", 70.0), ("101", None), ("x", None), (None, None)]
)
def test_ttft_is_headers_then_first_output_and_never_longer_than_the_call(
    after_headers: str | None, ttft: float | None
) -> None:
    completion = (
        _completed(1100) if after_headers is None else _completed(1100, ttft_ms=after_headers)
    )
    (call,) = _calls(_map(codex.CodexMapper(), [_request(1000), completion]))
    assert call.genai["ttft_ms"] == ttft  # the call took 140 ms, 40 of them to its headers
    assert call.genai["ttft_source"] == (codex.TTFT_SOURCE if ttft else None)


def test_a_websocket_request_is_a_request_and_one_not_sent_a_failed_call() -> None:
    sent = _event("codex.websocket_request", 1000, duration_ms="0", success="true")
    unsent = _event(
        "codex.websocket_request",
        3000,
        duration_ms="5",
        success="false",
        **{"error.message": "closed"},
    )
    rows = _map(codex.CodexMapper(), [sent, _completed(1200, ttft_ms="90"), unsent])
    good, failed = sorted(_calls(rows), key=lambda row: row.start_unix_nano)
    assert (good.start_unix_nano, good.end_unix_nano) == (1000 * MS, 1200 * MS)
    assert (good.status_code, good.genai["ttft_ms"]) == (0, 90.0)
    assert (failed.status_code, failed.status_message, failed.genai["error_type"]) == (
        2,
        "closed",
        "request_failed",
    )


def test_a_broken_stream_fails_its_call() -> None:
    rows = _map(
        codex.CodexMapper(),
        [
            _request(1000),
            _event("codex.sse_event", 1200, None, **{"error.message": "idle timeout waiting"}),
        ],
    )
    (call,) = _calls(rows)
    assert (call.status_code, call.status_message, call.genai["error_type"]) == (
        2,
        "idle timeout waiting",
        "stream_error",
    )


def test_stream_events_in_between_make_nothing() -> None:
    mapper = codex.CodexMapper()
    assert _map(mapper, [_request(1000)]) == []  # nothing to show before it ends
    for kind in ("response.created", "response.output_text.delta", "response.completed"):
        assert mapper(_event("codex.sse_event", 1001, None, **{"event.kind": kind})) == []


def test_an_end_sent_again_makes_no_second_call() -> None:
    """An exporter may send a record again in another batch (the writer drops only a repeated
    body): its call must not appear twice, even once its request is no longer in flight."""
    mapper = codex.CodexMapper()
    events = [_request(1000), _completed(1100), _request(2000), _completed(2100)]
    first = _map(mapper, events)
    again = _map(mapper, events[1:2] + events)
    assert len(_calls(first)) == 2
    assert {row.span_id for row in _calls(again)} <= {row.span_id for row in _calls(first)}


def test_a_completion_whose_request_was_never_seen_is_still_a_call() -> None:
    (call,) = _calls(_map(codex.CodexMapper(), [_completed(5000)]))
    assert call.genai["input_tokens"] == 10 and call.start_unix_nano == call.end_unix_nano


def test_conversations_in_flight_together_keep_their_own_requests() -> None:
    other = {"conversation.id": "conv-2"}
    rows = _map(
        codex.CodexMapper(),
        [
            _request(1000),
            _request(1500, **other, model="o3"),
            _completed(1800, **other, model="o3", input_token_count="99"),
            _completed(2000),
        ],
    )
    calls = {row.genai["request_model"]: row for row in _calls(rows)}
    assert calls["o3"].genai["input_tokens"] == 99
    assert calls["gpt-5"].genai["input_tokens"] == 10
    assert calls["o3"].trace_id != calls["gpt-5"].trace_id


def test_a_denied_tool_is_a_failed_step_and_a_result_takes_its_decision() -> None:
    rows = _map(
        codex.CodexMapper(),
        [
            _event("codex.tool_decision", 1000, tool_name="shell", call_id="c1", decision="denied"),
            _event(
                "codex.tool_decision",
                1100,
                tool_name="shell",
                call_id="c2",
                decision="approved_for_session",
            ),
            _event(
                "codex.tool_result",
                1300,
                tool_name="shell",
                call_id="c2",
                duration_ms="150",
                success="false",
                arguments="{}",
                output="exit 1",
            ),
        ],
    )
    tools = {
        row.genai["tool_call_id"]: row
        for row in _latest(rows).values()
        if row.genai["span_role"] == "tool"
    }
    assert (tools["c1"].status_code, tools["c1"].genai["tool_decision"]) == (2, "denied")
    assert tools["c2"].genai["tool_decision"] == "approved_for_session"
    assert (tools["c2"].status_code, tools["c2"].genai["tool_result"]) == (2, "exit 1")


def test_a_redacted_prompt_is_not_shown_as_the_users_words() -> None:
    (run,) = _map(codex.CodexMapper(), [_event("codex.user_prompt", 1, prompt="[REDACTED]")])
    assert run.genai["input_messages"] is None


def test_state_stays_bounded() -> None:
    mapper = codex.CodexMapper()
    for number in range(codex.MAX_CONVERSATIONS + 50):
        mapper(_request(number, **{"conversation.id": f"c{number}"}))
    assert len(mapper._conversations) == codex.MAX_CONVERSATIONS


HOSTILE_VALUES: list[Any] = [
    None,
    "",
    -1,
    2**63,
    1e308,
    float("nan"),
    "-5",
    "١٢",
    "9" * 40,
    [1, 2],
    {"a": 1},
    True,
    PROMPT,
    ERROR,
    CLEAR,
    "nul\x00byte",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
def test_hostile_values_never_fail_and_are_kept_literally(value: Any) -> None:
    keys = (
        "conversation.id",
        "duration_ms",
        "http.response.status_code",
        "model",
        "input_token_count",
        "cached_token_count",
        "prompt",
        "decision",
        "call_id",
        "tool_name",
        "arguments",
        "output",
        "success",
        "error.message",
        "event.kind",
    )
    hostile = dict.fromkeys(keys, value)
    events = [
        _event("codex.conversation_starts", 1, provider_name=value),
        _event("codex.user_prompt", 2, **hostile),
        _request(3, **hostile),
        _completed(4, **hostile),
        _event("codex.tool_decision", 5, **hostile),
        _event("codex.tool_result", 6, **hostile),
        _event("codex.sse_event", 7, None, **hostile),
        _event("codex.sse_event", 8, None, **{**hostile, "error.message": "broken"}),
        _completed(9, **{**hostile, "input_token_count": "5"}),
    ]
    rows = _map(codex.CodexMapper(), events)
    for row in rows:
        assert row.start_unix_nano <= row.end_unix_nano
        assert row.start_unix_nano >= 0
        for name in ("input_tokens", "output_tokens", "cache_read_tokens"):
            count = row.genai.get(name)
            assert count is None or (type(count) is int and 0 <= count <= 1 << 40)
        if isinstance(value, str) and value and row.genai["span_role"] == "tool":
            assert row.genai["tool_result"] in (None, value)  # as sent, never rewritten


def _record(field: str, attribute: str | None = None) -> LogRecord:
    """A record with `field` as its event_name and `attribute` as its event.name attribute."""
    named = (
        []
        if attribute is None
        else [KeyValue(key="event.name", value=AnyValue(string_value=attribute))]
    )
    return LogRecord(event_name=field, time_unix_nano=1, attributes=named)


@pytest.mark.parametrize(
    ("record", "stored"),
    [
        # Rust's tracing bridge (Codex): a source location in event_name, the name in event.name
        (_record("event otel/src/events/session_telemetry.rs:737", "codex.x"), "codex.x"),
        (_record("src/main.rs:12", "codex.x"), "codex.x"),
        # a real event name in the field wins over a different attribute
        (_record("gen_ai.choice", "other.name"), "gen_ai.choice"),
        (_record("", "gen_ai.user.message"), "gen_ai.user.message"),
        # no attribute: the field as sent, even a location (nothing better is known)
        (_record("event src/metrics/client.rs:330"), "event src/metrics/client.rs:330"),
        (_record("event x.rs:1", ""), "event x.rs:1"),
        (_record(""), None),
    ],
)
def test_the_stored_event_name(record: LogRecord, stored: str | None) -> None:
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.append(record)
    batch, _rejections = decode_logs(request, "digest")
    assert batch.rows[0][5] == stored


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_captured_export_through_the_receiver_shows_the_run(
    receiver: RunningReceiver, transport: str
) -> None:
    """The captured bodies, split one record a request (the state spans requests), posted to the
    real receiver twice (the second time changes nothing)."""
    singles = []
    for sent in _requests(transport):
        for resource_logs in sent.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    request = ExportLogsServiceRequest()
                    one = request.resource_logs.add(resource=resource_logs.resource)
                    one.scope_logs.add(scope=scope_logs.scope).log_records.append(record)
                    singles.append(request)
    for _round in range(2):
        for request in singles:
            response = httpx.post(
                f"{receiver.url}/v1/logs",
                content=request.SerializeToString(),
                headers={"Content-Type": "application/x-protobuf"},
            )
            assert response.status_code == 200
    conn = receiver.store.reader()
    calls = list_calls(conn)
    assert sorted((call.input_tokens, call.output_tokens) for call in calls) == [
        (321, 17),
        (402, 9),
    ]
    (run,) = list_runs(conn)
    assert (run.agent_name, run.model_calls, run.tool_calls) == ("Codex", 2, 1)
    detail = get_run(conn, run.run_id)
    assert detail is not None and detail.run.conversation_id is not None
    conversation = get_conversation(conn, detail.run.conversation_id)
    assert conversation is not None
    assert conversation.turns[0].question == "Run echo hi and tell me what it printed."


def test_the_readme_config_is_the_one_the_real_cli_test_runs() -> None:
    """Every setting the README tells users to write is in the tested config, with its value."""
    section = README.read_text().split("### Codex CLI", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    documented = tomllib.loads(block.group(1))
    tested = tomllib.loads(codex_config("http://127.0.0.1:1/v1", "http://127.0.0.1:4318"))
    assert documented == {key: tested[key] for key in documented}
    assert set(documented["otel"]) >= {"exporter", "trace_exporter", "metrics_exporter"}
