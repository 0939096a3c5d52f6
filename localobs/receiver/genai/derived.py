"""Calls, tool steps and turns built from log events, for clients that send no spans for them.

Coding agents (Claude Code, Codex, Gemini CLI) report each model request and tool run as an OTLP
log event in their own vocabulary. A mapper per client turns such an event into span rows (a model
call, a tool step, the turn that holds them), so every screen and query that reads calls, agent
runs and conversations shows them with no special case. The rows are marked `derived_from =
'logs'`: exports and forwarding leave them out (the log records they came from are exported as
sent), and the writer inserts them idempotently (ids are derived from the events), extending a
turn's time span as its events arrive. Several events may build one row (same ids): a row seen
again fills the columns the stored one left empty (never overwriting) and an error status wins.

This module holds the contract (what a mapper reads and builds); client_events.py holds the
mappers by event name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple

from localobs.receiver.genai.dispatch import STATUS_ERROR
from localobs.receiver.genai.messages import text_part
from localobs.receiver.genai.record import CALL_FIELDS, dumps

DERIVED_FROM_LOGS = "logs"
SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3


class LogEvent(NamedTuple):
    """What a mapper reads from one log record (attributes already decoded)."""

    event_name: str
    attributes: dict[str, Any]
    body: Any
    time_unix_nano: int
    service_name: str | None
    # The record's trace context (hex), when it has one: some clients (Codex) emit their events
    # inside the span of the turn they belong to, and that is the only turn id they send.
    trace_id: str | None = None
    span_id: str | None = None


class DerivedSpan(NamedTuple):
    """One span row a mapper builds; `genai` maps CALL_FIELDS names to values (others are None)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    start_unix_nano: int
    end_unix_nano: int
    status_code: int
    status_message: str | None
    attributes: dict[str, Any]
    genai: dict[str, Any]


Mapper = Callable[[LogEvent], list[DerivedSpan]]


def derived_id(*parts: object, size: int = 8) -> str:
    """A stable hex id (`size` bytes) from the values that identify a turn or an event, so the
    same event sent twice derives the same rows."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def prompt_message(text: str) -> str:
    """A turn's prompt as the message columns store it: one user message of text."""
    return dumps([{"role": "user", "parts": [text_part(text)]}])


def agent_run(
    trace_id: str,
    span_id: str,
    *,
    agent_name: str,
    dialect: str,
    conversation_id: str | None,
    start: int,
    end: int,
    attributes: dict[str, Any],
    input_messages: str | None = None,
) -> DerivedSpan:
    """The root of a coding agent's turn: an agent run in its session's conversation, so the
    agents and conversations screens show it like any framework's run. The writer stretches it
    over the turn's events and fills its prompt when that comes later."""
    genai: dict[str, Any] = {
        "span_role": "agent",
        "agent_name": agent_name,
        "conversation_id": conversation_id,
        "dialect": dialect,
        "input_messages": input_messages,
    }
    return DerivedSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=None,
        name=f"invoke_agent {agent_name}",
        kind=SPAN_KIND_INTERNAL,
        start_unix_nano=start,
        end_unix_nano=end,
        status_code=0,
        status_message=None,
        attributes={key: value for key, value in attributes.items() if value is not None},
        genai=genai,
    )


def turn_step(
    trace_id: str,
    span_id: str,
    run_id: str,
    *,
    name: str,
    kind: int,
    start: int,
    end: int,
    error: str | None,
    attributes: dict[str, Any],
    genai: dict[str, Any],
    ok_status: int = 0,
) -> DerivedSpan:
    """A model call or tool step under a coding agent's turn (`run_id`): an error status with
    `error` as its message when there is one, else `ok_status`."""
    return DerivedSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=run_id,
        name=name,
        kind=kind,
        start_unix_nano=start,
        end_unix_nano=end,
        status_code=STATUS_ERROR if error is not None else ok_status,
        status_message=error,
        attributes=attributes,
        genai=genai,
    )


def span_row(
    span: DerivedSpan, service_name: str | None, scope_name: str | None, ids: tuple[int, int]
) -> tuple[Any, ...]:
    """The full `spans` row (SPAN_COLUMNS order) of a derived span."""
    unknown = span.genai.keys() - set(CALL_FIELDS)
    if unknown:
        raise ValueError(f"not call fields: {sorted(unknown)}")
    # `logs` unless the mapper names another source (Logfire's split calls: `spans`).
    genai = {"derived_from": DERIVED_FROM_LOGS, **span.genai}
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        None,
        0,
        span.name,
        span.kind,
        service_name,
        scope_name,
        *ids,
        span.start_unix_nano,
        span.end_unix_nano,
        span.status_code,
        span.status_message,
        dumps(span.attributes),
        None,
        None,
        0,
        0,
        0,
        *(genai.get(field) for field in CALL_FIELDS),
    )
