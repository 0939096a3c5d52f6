"""Agent runs, tools and conversations from each dialect family, through the real receiver.

The payloads (tests/agent_payloads.py) are one two-turn conversation per dialect; every assertion
is read back with the store's query functions, as the viewer and the CLI read it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from localobs.receiver.genai import CALL_FIELDS, normalize_span
from localobs.store.agents import get_run, list_runs
from localobs.store.conversations import (
    call_scope,
    context_change,
    get_conversation,
    list_conversations,
)
from tests.agent_payloads import (
    ARGUMENTS,
    CONVERSATION,
    DIALECTS,
    FOLLOW_UP,
    QUESTION,
    RESULT,
    RUN_AGGREGATE,
    TOOL,
    USAGE,
    Trace,
    body,
)
from tests.conftest import RunningReceiver

JSON = {"Content-Type": "application/json"}


@pytest.fixture(params=sorted(DIALECTS))
def conn(request: pytest.FixtureRequest, receiver: RunningReceiver) -> Iterator[sqlite3.Connection]:
    response = httpx.post(
        f"{receiver.url}/v1/traces", content=DIALECTS[request.param](), headers=JSON
    )
    assert response.status_code == 200, response.text
    assert response.json() == {}
    reader = receiver.store.reader()
    yield reader
    reader.close()


def test_runs_are_named_with_their_own_calls_and_tools_counted_once(
    conn: sqlite3.Connection,
) -> None:
    runs = list_runs(conn)
    assert [run.agent_name for run in runs] == ["weather", "weather"]
    follow_up, first = runs  # newest first
    assert (first.model_calls, first.tool_calls) == (2, 3)
    assert (first.input_tokens, first.output_tokens) == (
        USAGE[0][0] + USAGE[1][0],
        USAGE[0][1] + USAGE[1][1],
    )
    assert RUN_AGGREGATE[0] not in (first.input_tokens, follow_up.input_tokens)
    assert (follow_up.model_calls, follow_up.tool_calls) == (1, 0)
    assert (follow_up.input_tokens, follow_up.output_tokens) == USAGE[2]
    assert first.conversation_id == follow_up.conversation_id == CONVERSATION
    assert first.errors == 1 and first.error is None


def test_a_run_tree_shows_each_tool_with_arguments_result_and_the_loop(
    conn: sqlite3.Connection,
) -> None:
    first = list_runs(conn)[-1]
    detail = get_run(conn, first.run_id)
    assert detail is not None
    kinds = [step.kind for step in detail.steps]
    assert kinds[0] == "agent"
    assert kinds.count("model call") == 2 and kinds.count("tool") == 3
    tools = [step for step in detail.steps if step.kind == "tool"]
    assert {step.tool_name for step in tools} == {TOOL}
    assert {step.arguments for step in tools} == {ARGUMENTS}
    assert {step.result for step in tools} == {RESULT}
    assert [step.error is not None for step in tools] == [False, False, True]
    assert all(step.duration_ms == pytest.approx(50) for step in tools)
    (stat,) = detail.tools
    assert (stat.tool_name, stat.count, stat.errors) == (TOOL, 3, 1)
    assert stat.p50_ms == pytest.approx(50) and stat.error_rate == pytest.approx(1 / 3)
    (loop,) = detail.transitions
    assert (loop.from_tool, loop.to_tool, loop.count, loop.is_loop) == (TOOL, TOOL, 2, True)
    root = detail.steps[0]
    assert root.self_time_ms < root.duration_ms


def test_tool_call_parts_link_to_the_tool_executions(conn: sqlite3.Connection) -> None:
    detail = get_run(conn, list_runs(conn)[-1].run_id)
    assert detail is not None
    tool_spans = {step.tool_call_id: step.span_id for step in detail.steps if step.kind == "tool"}
    asking = next(step for step in detail.steps if step.tool_calls)
    assert [link.name for link in asking.tool_calls] == [TOOL] * 3
    if all(tool_spans):  # dialects that send the tool call id on the tool span
        assert [link.step_span_id for link in asking.tool_calls] == [
            tool_spans[f"call_{i}"] for i in range(3)
        ]


def test_the_conversation_has_its_turns_in_order_with_tokens_per_turn(
    conn: sqlite3.Connection,
) -> None:
    (summary,) = list_conversations(conn)
    assert summary.conversation_id == CONVERSATION
    assert (summary.turns, summary.model_calls) == (2, 3)
    assert summary.input_tokens == sum(tokens for tokens, _ in USAGE)
    assert summary.first_seen < summary.last_seen
    conversation = get_conversation(conn, CONVERSATION)
    assert conversation is not None
    first, second = conversation.turns
    assert (first.number, second.number) == (1, 2)
    assert first.question == QUESTION and second.question == FOLLOW_UP
    assert (first.input_tokens, second.input_tokens) == (USAGE[0][0] + USAGE[1][0], USAGE[2][0])
    assert [call.input_tokens for call in first.calls] == [USAGE[0][0], USAGE[1][0]]
    assert get_conversation(conn, "no-such-conversation") is None


def test_a_call_knows_its_run_and_conversation(conn: sqlite3.Connection) -> None:
    conversation = get_conversation(conn, CONVERSATION)
    assert conversation is not None
    call = conversation.turns[1].calls[0]
    scope = call_scope(conn, call.call_id)
    assert scope is not None
    assert scope.agent_name == "weather" and scope.conversation_id == CONVERSATION
    assert scope.run_id == list_runs(conn)[0].run_id


def test_context_change_shows_only_what_was_added_since_the_previous_call(
    conn: sqlite3.Connection,
) -> None:
    conversation = get_conversation(conn, CONVERSATION)
    assert conversation is not None
    first_call, second_call = conversation.turns[0].calls
    change = context_change(conn, first_call.call_id)
    assert change is not None and change.previous_call_id is None
    change = context_change(conn, second_call.call_id)
    assert change is not None
    assert (change.previous_call_id, change.scope) == (first_call.call_id, "run")
    follow_up = context_change(conn, conversation.turns[1].calls[0].call_id)
    assert follow_up is not None
    assert (follow_up.previous_call_id, follow_up.scope) == (second_call.call_id, "conversation")
    added_text = [part.content for message in follow_up.added for part in message.parts]
    assert FOLLOW_UP in added_text


def test_genai_context_diff_names_the_tool_results_added(receiver: RunningReceiver) -> None:
    """The GenAI payload sends the whole history: the second call adds the tool results (named
    `result`, as Pydantic AI does), and the answer it echoes is not counted as new."""
    httpx.post(f"{receiver.url}/v1/traces", content=DIALECTS["genai"](), headers=JSON)
    reader = receiver.store.reader()
    try:
        conversation = get_conversation(reader, CONVERSATION)
        assert conversation is not None
        change = context_change(reader, conversation.turns[0].calls[1].call_id)
    finally:
        reader.close()
    assert change is not None
    assert (change.kept, change.removed) == (2, ())
    assert [message.role for message in change.added] == ["tool"] * 3
    parts = [message.parts[0] for message in change.added]
    assert [(part.type, part.id, part.content) for part in parts] == [
        ("tool_call_response", f"call_{i}", RESULT) for i in range(3)
    ]


@pytest.mark.parametrize(
    ("operation", "role"),
    [
        ("invoke_agent", "agent"),
        ("handle_conversation_turn", "agent"),
        ("create_agent", "task"),
        ("plan", "task"),
        ("invoke_workflow", "workflow"),
        ("execute_tool", "tool"),
    ],
)
def test_operation_names_of_both_generations_set_the_role(operation: str, role: str) -> None:
    attributes = {"gen_ai.operation.name": operation, "gen_ai.workflow.name": "flow"}
    call = normalize_span(f"{operation} thing", attributes, [], 0, 1, 0)
    assert call is not None
    row = dict(zip(CALL_FIELDS, call, strict=True))
    assert (row["span_role"], row["operation"]) == (role, None)
    assert row["workflow_name"] == "flow"
    if role == "agent":
        assert row["agent_name"] == "thing"
    if role == "tool":
        assert row["tool_name"] == "thing"


def test_a_span_naming_only_a_tool_or_an_agent_gets_that_role() -> None:
    tool = normalize_span("x", {"gen_ai.tool.name": "t", "gen_ai.tool.call.id": "c"}, [], 0, 1, 0)
    agent = normalize_span("y", {"gen_ai.agent.name": "a"}, [], 0, 1, 0)
    assert tool is not None and agent is not None
    assert dict(zip(CALL_FIELDS, tool, strict=True))["span_role"] == "tool"
    assert dict(zip(CALL_FIELDS, agent, strict=True))["agent_name"] == "a"
    assert normalize_span("plain", {"session.id": "s"}, [], 0, 1, 0) is None


def test_structured_tool_arguments_are_stored_as_json_text() -> None:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "t",
        "gen_ai.tool.call.arguments": {"city": "Paris"},
        "tool_response": "ok",  # Pydantic AI's name before the conventions had one
    }
    call = normalize_span("execute_tool t", attributes, [], 0, 1, 0)
    assert call is not None
    row = dict(zip(CALL_FIELDS, call, strict=True))
    assert row["tool_arguments"] == '{"city":"Paris"}'
    assert row["tool_result"] == "ok"
    assert "gen_ai.tool.call.arguments" in attributes  # copied, not moved


@pytest.mark.parametrize(
    "value", [["a", 1], {"k": "v"}, 3.5, True, None, "", {"$bytes": "AAE="}, 12]
)
def test_odd_attribute_types_give_text_or_null_never_a_failure(value: object) -> None:
    attributes = {
        key: value
        for key in (
            "gen_ai.agent.name",
            "gen_ai.agent.id",
            "gen_ai.tool.name",
            "gen_ai.tool.call.id",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "gen_ai.tool.call.decision",
            "gen_ai.workflow.name",
            "gen_ai.conversation.id",
            "session.id",
        )
    }
    for operation in ("invoke_agent", "execute_tool", "chat"):
        call = normalize_span("x", {**attributes, "gen_ai.operation.name": operation}, [], 0, 1, 0)
        assert call is not None
        row = dict(zip(CALL_FIELDS, call, strict=True))
        agent_part = {key: row[key] for key in CALL_FIELDS[CALL_FIELDS.index("agent_name") :]}
        assert all(v is None or (isinstance(v, str) and v) for v in agent_part.values())


def test_a_sub_agent_is_a_step_of_its_run_not_a_run_of_its_own(receiver: RunningReceiver) -> None:
    trace = Trace(40)
    run = trace.add("invoke_agent planner", 0, 500, {"gen_ai.operation.name": "invoke_agent"})
    sub = trace.add(
        "invoke_agent weather",
        10,
        400,
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather"},
        parent=run,
    )
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    trace.add("chat m", 20, 100, {**chat, "gen_ai.usage.input_tokens": 7}, parent=sub)
    response = httpx.post(
        f"{receiver.url}/v1/traces", content=body("nested", [trace]), headers=JSON
    )
    assert response.status_code == 200
    reader = receiver.store.reader()
    try:
        (listed,) = list_runs(reader)
        detail = get_run(reader, listed.run_id)
    finally:
        reader.close()
    assert (listed.agent_name, listed.sub_agents) == ("planner", ("weather",))
    assert (listed.model_calls, listed.input_tokens) == (1, 7)
    assert detail is not None
    assert [step.kind for step in detail.steps] == ["agent", "sub-agent", "model call"]
