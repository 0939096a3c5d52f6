"""Claude Code's log events (shapes captured from the real CLI, tests/fixtures/claude_code) to
calls, tool steps and turns: the mapping, hostile values, and the derived rows in the store
(inserted once, stretched turns, left out of exports, pruned by age like any trace)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from localobs.receiver.faults import FAULTS
from localobs.receiver.genai.client_events import calls_from_events, derive
from localobs.receiver.genai.derived import DerivedSpan, LogEvent, span_row
from localobs.receiver.genai.dispatch import normalize_span
from localobs.store.contents import expand_sql
from localobs.store.database import connect
from localobs.store.export import ExportFilter, stored_pages
from localobs.store.retention import PruneGoal, prune
from tests.conftest import RunningReceiver
from tests.otlp_samples import kv

FIXTURE = Path(__file__).parent / "fixtures" / "claude_code" / "events.json"
EVENTS: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["events"]


def event(name: str, index: int = 0, **changes: Any) -> LogEvent:
    """The `index`-th captured event called `name`, with attributes changed (None: removed)."""
    found = [item for item in EVENTS if item["event_name"] == name][index]
    attributes = {**found["attributes"], **changes}
    attributes = {key: value for key, value in attributes.items() if value is not None}
    return LogEvent(name, attributes, found["body"], found["time_unix_nano"], found["service_name"])


def step(spans: list[DerivedSpan]) -> DerivedSpan:
    """The step an event stands for (the other row is its turn)."""
    (found,) = [span for span in spans if span.parent_span_id is not None]
    return found


def test_an_api_request_is_a_model_call_inside_its_turn() -> None:
    request = event("api_request")
    spans = derive(request)
    turn, call = spans[0], step(spans)
    assert call.parent_span_id == turn.span_id and call.trace_id == turn.trace_id
    genai = call.genai
    assert (genai["span_role"], genai["operation"], genai["provider"]) == (
        "llm",
        "chat",
        "anthropic",
    )
    assert genai["response_model"] == request.attributes["model"]
    assert (genai["input_tokens"], genai["output_tokens"]) == (120, 30)
    assert (genai["cache_read_tokens"], genai["cache_write_tokens"]) == (400, 50)
    assert genai["reported_cost_usd"] == pytest.approx(0.0018625)
    assert genai["dialect"] == "claude_code"
    assert genai["conversation_id"] == request.attributes["session.id"]
    assert call.end_unix_nano - call.start_unix_nano == 80_000_000  # its duration_ms
    assert call.end_unix_nano == request.time_unix_nano
    assert turn.genai["span_role"] == "agent" and turn.genai["agent_name"] == "Claude Code"
    assert (turn.start_unix_nano, turn.end_unix_nano) == (call.start_unix_nano, call.end_unix_nano)


def test_every_event_of_a_prompt_lands_in_one_turn_and_twice_sent_derives_the_same_rows() -> None:
    prompt_events = [
        item
        for item in EVENTS
        if item["attributes"].get("prompt.id") == EVENTS[0]["attributes"]["prompt.id"]
    ]
    turns = set()
    for item in prompt_events:
        logged = event(
            item["event_name"],
            [e for e in EVENTS if e["event_name"] == item["event_name"]].index(item),
        )
        spans = derive(logged)
        assert spans == derive(logged)
        turns.update((span.trace_id, span.parent_span_id or span.span_id) for span in spans)
    assert len(turns) == 1


def test_the_user_prompt_is_the_turns_message() -> None:
    (turn,) = derive(event("user_prompt"))
    messages = json.loads(turn.genai["input_messages"])
    assert messages == [{"role": "user", "parts": [{"type": "text", "content": "Run echo for me"}]}]
    (hidden,) = derive(event("user_prompt", prompt="<REDACTED>"))
    assert hidden.genai["input_messages"] is None
    assert hidden.span_id == turn.span_id


def test_a_tool_result_and_its_decision_are_one_tool_step() -> None:
    tool = step(derive(event("tool_result")))
    assert tool.genai["span_role"] == "tool" and tool.genai["tool_name"] == "Bash"
    assert tool.genai["tool_call_id"] == "toolu_standin0001"
    assert json.loads(tool.genai["tool_arguments"])["command"] == "echo localobs-tool-ran"
    assert tool.end_unix_nano - tool.start_unix_nano == 71_000_000  # sent as the string "71"
    assert tool.status_code == 0
    decision = step(derive(event("tool_decision")))
    assert decision.genai["tool_decision"] == "accept (config)"
    assert decision.genai["span_role"] == "tool"
    assert decision.genai["tool_arguments"] is None  # the result brings the whole input
    rejected = step(derive(event("tool_decision", decision="reject", source="user_reject")))
    assert rejected.genai["tool_decision"] == "reject (user_reject)"
    assert json.loads(rejected.genai["tool_arguments"])["full_command"] == "echo localobs-tool-ran"
    assert (decision.trace_id, decision.span_id) == (tool.trace_id, tool.span_id)
    failed = step(derive(event("tool_result", success="false", error="Exit code 1")))
    assert (failed.status_code, failed.status_message) == (2, "Exit code 1")
    # Without a tool call id nothing pairs them: each event is a step of its own.
    alone = step(derive(event("tool_decision", tool_use_id=None)))
    assert alone.span_id != step(derive(event("tool_result", tool_use_id=None))).span_id


def test_an_api_error_is_a_failed_call() -> None:
    call = step(derive(event("api_error")))
    assert call.genai["error_type"] == "400" and call.status_code == 2
    assert call.status_message == "stand-in refused"
    assert call.genai.get("input_tokens") is None  # no usage reported: none made up


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"input_tokens": "120"}, {"input_tokens": 120}),
        (
            {"input_tokens": "lots", "output_tokens": -3},
            {"input_tokens": None, "output_tokens": None},
        ),
        (
            {"input_tokens": 1.5, "cache_read_tokens": [1]},
            {"input_tokens": None, "cache_read_tokens": None},
        ),
        ({"cost_usd": "0.5"}, {"reported_cost_usd": 0.5}),
        ({"cost_usd": -1.0}, {"reported_cost_usd": None}),
        ({"cost_usd": "NaN"}, {"reported_cost_usd": None}),
        (
            {"cost_usd": None, "input_tokens": None},
            {"reported_cost_usd": None, "input_tokens": None},
        ),
        ({"model": {"a": 1}}, {"response_model": None}),
    ],
)
def test_hostile_values_are_left_out_never_guessed(
    changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    call = step(derive(event("api_request", **changes)))
    for field, value in expected.items():
        assert call.genai[field] == value


@pytest.mark.parametrize("duration", ["abc", -5, 1e30, float("inf"), None, True])
def test_a_bad_duration_is_an_instant(duration: Any) -> None:
    call = step(derive(event("api_request", duration_ms=duration)))
    assert call.start_unix_nano == call.end_unix_nano


def test_missing_ids_still_make_a_turn() -> None:
    spans = derive(event("api_request", **{"session.id": None, "prompt.id": None}))
    assert len(spans) == 2 and step(spans).genai["conversation_id"] is None
    early = LogEvent("api_request", {"duration_ms": 5_000}, None, 1_000, "claude-code")
    assert step(derive(early)).start_unix_nano == 0  # never before the epoch


def test_another_clients_event_of_the_same_name_is_not_read() -> None:
    other = LogEvent("api_request", {"input_tokens": 3}, "something else", 1, "other-service")
    assert derive(other) == []
    prefixed = LogEvent("claude_code.api_request", {"input_tokens": 3}, None, 1, "renamed")
    assert step(derive(prefixed)).genai["input_tokens"] == 3


def test_its_beta_spans_are_not_counted_as_calls() -> None:
    """The receiver reads such spans as no call (they would count each call twice)."""
    attributes = {"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-opus-4-8"}
    assert calls_from_events("com.anthropic.claude_code", "claude_code.llm_request")
    assert not calls_from_events("com.anthropic.claude_code", "chat claude")
    assert normalize_span("chat claude", dict(attributes), [], 1, 2, 0) is not None


def _logs_request(events: list[dict[str, Any]] = EVENTS) -> bytes:
    request = ExportLogsServiceRequest()
    resource = request.resource_logs.add()
    resource.resource.attributes.append(kv("service.name", "claude-code"))
    scope = resource.scope_logs.add()
    scope.scope.name = "com.anthropic.claude_code.events"
    for item in events:
        record = scope.log_records.add()
        record.time_unix_nano = item["time_unix_nano"]
        record.body.string_value = item["body"]
        record.attributes.extend(kv(key, value) for key, value in item["attributes"].items())
    return request.SerializeToString()


def test_derived_rows_are_stored_once_left_out_of_exports_and_pruned_by_age(
    receiver: RunningReceiver,
) -> None:
    body = _logs_request()
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        assert client.post(f"{receiver.url}/v1/logs", content=body).status_code == 200
        # The same events again in another body: the derived rows are not inserted twice.
        again = ExportLogsServiceRequest.FromString(body)
        again.resource_logs[0].scope_logs[0].scope.version = "again"
        posted = client.post(f"{receiver.url}/v1/logs", content=again.SerializeToString())
        assert posted.status_code == 200
    db = receiver.store.path
    conn = connect(db, readonly=True)
    try:
        derived = conn.execute(
            "SELECT name, start_time_unix_nano, end_time_unix_nano FROM spans"
            " WHERE derived_from = 'logs'"
        ).fetchall()
        exported = [page for page in stored_pages(conn, "traces", ExportFilter())]
    finally:
        conn.close()
    # 2 turns; 3 calls (2 + 1 failed), 1 tool step (with its decision).
    names = sorted(name.split(" ")[0] for name, _start, _end in derived)
    assert names == ["chat", "chat", "chat", "execute_tool", "invoke_agent", "invoke_agent"]
    turn = min(row for row in derived if row[0].startswith("invoke_agent"))
    first_prompt = [item["time_unix_nano"] for item in EVENTS[:7]]
    assert turn[2] == max(first_prompt)  # stretched over all its events
    assert all(not page.rows for page in exported)  # never sent as spans: not exported
    writer = connect(db)
    try:
        pruned = prune(writer, db, PruneGoal(older_than_unix_nano=time.time_ns() + 10**9))
        left = writer.execute("SELECT count(*) FROM spans").fetchone()[0]
    finally:
        writer.close()
    assert pruned.traces == 2 and left == 0


def test_the_fixture_is_the_cli_s_own_shape() -> None:
    """Guards the captured file against hand edits that would make the tests above easy."""
    names = [item["event_name"] for item in EVENTS]
    assert names.count("api_request") == 2 and "api_error" in names
    assert all(item["body"] == "claude_code." + item["event_name"] for item in EVENTS)
    assert orjson.loads(orjson.dumps(EVENTS)) == EVENTS


def test_events_in_any_order_build_the_same_turn_and_tool_step(receiver: RunningReceiver) -> None:
    """Each event alone and last first: the prompt still reaches its turn, the decision and the
    result still make one tool step, and the contents they use are counted once."""
    first_prompt = EVENTS[:7]
    with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
        for item in reversed(first_prompt):
            posted = client.post(f"{receiver.url}/v1/logs", content=_logs_request([item]))
            assert posted.status_code == 200
    conn = connect(receiver.store.path, readonly=True)
    try:
        (turn,) = conn.execute(
            f"SELECT {expand_sql('input_messages')}, start_time_unix_nano, end_time_unix_nano"
            " FROM spans WHERE span_role = 'agent'"
        ).fetchall()
        (tool,) = conn.execute(
            "SELECT tool_decision, tool_arguments, status_code, start_time_unix_nano,"
            " end_time_unix_nano FROM spans WHERE span_role = 'tool'"
        ).fetchall()
        refs = conn.execute("SELECT refs FROM contents").fetchall()
    finally:
        conn.close()
    assert "Run echo for me" in turn[0]
    times = [item["time_unix_nano"] for item in first_prompt]
    assert turn[2] == max(times) and turn[1] <= min(times)
    decided, arguments, status, start, end = tool
    assert decided == "accept (config)" and status == 0
    assert json.loads(arguments) == {
        "command": "echo localobs-tool-ran",
        "description": "Print a marker",
    }
    decision_time = first_prompt[1]["time_unix_nano"]
    assert (start, end) == (decision_time, first_prompt[4]["time_unix_nano"])
    assert refs == [(1,)]  # the prompt's one message, used by the turn alone


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["120", " 7 ", "1e400", "-0", "true", "false", "<REDACTED>", ""]),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=3),  # OTLP: int64
    st.fixed_dictionaries({"$bytes": st.just("AAE=")}),
)
_KEYS = st.sampled_from(
    sorted({key for item in EVENTS for key in item["attributes"]} | {"error", "decision"})
)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted({item["event_name"] for item in EVENTS})),
    attributes=st.dictionaries(_KEYS, _VALUES, max_size=12),
    time_ns=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_any_attribute_values_map_without_a_fault(
    name: str, attributes: dict[str, Any], time_ns: int
) -> None:
    """The mapper reads every value defensively: it never needs derive()'s safety net, and its
    rows are always storable."""
    before = FAULTS.counts()
    spans = derive(LogEvent(name, attributes, f"claude_code.{name}", time_ns, "claude-code"))
    assert FAULTS.counts() == before
    for span in spans:
        span_row(span, "claude-code", "scope", (1, 2))
        assert 0 <= span.start_unix_nano <= span.end_unix_nano
