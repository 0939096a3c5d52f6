"""Claude Code's log events as model calls, tool steps and turns (see derived.py for the contract).

Claude Code (`CLAUDE_CODE_ENABLE_TELEMETRY=1`) sends one OTLP log record per event, named in its
`event.name` attribute (`api_request`, `tool_result`, ...) with the body `claude_code.<name>`.
Every event carries `session.id` and `prompt.id` (one user prompt and all the work it caused):

- a turn is one (session, prompt): a root agent-run span "Claude Code" whose conversation id is
  the session id, so the agents and conversations screens show sessions and prompts as they show
  any agent's conversations and runs;
- `user_prompt` gives the turn its user message (the prompt text, when OTEL_LOG_USER_PROMPTS=1);
- `api_request` is a model call (tokens, cache reads and writes, the cost Claude Code reports,
  its duration ending at the event); `api_error` is a failed one;
- `tool_result` and `tool_decision` are one tool step, the row both derive from the tool call id
  (`tool_use_id`): the decision (`accept (config)`, `reject (user_reject)`, ...) arrives first,
  the result adds success, error and its end (the writer fills what a row left empty and
  stretches it, see store/ingest.py), so the step spans the permission wait and the run. A
  rejected tool is a step with its decision and no run. Arguments come with
  OTEL_LOG_TOOL_DETAILS=1; Claude Code never sends a tool's output.

Claude Code's beta traces (`claude_code.*` spans) repeat these calls without their cost; see
`is_claude_code_span` and client_events.calls_from_events: they are kept as sent but never
counted as calls.

Values are untrusted: numbers may come as strings (Claude Code itself sends `duration_ms` of a
tool as "71"), anything may be missing; a value that cannot be read is left out, never guessed.
"""

from __future__ import annotations

import math
from typing import Any

from localobs.receiver.genai.derived import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_INTERNAL,
    DerivedSpan,
    LogEvent,
    agent_run,
    derived_id,
    prompt_message,
    turn_step,
)
from localobs.receiver.genai.record import as_count

AGENT_NAME = "Claude Code"
DIALECT = "claude_code"
PROVIDER = "anthropic"
SERVICE_NAME = "claude-code"  # its default service.name
_PREFIX = "claude_code."
# What Claude Code sends in place of a prompt when OTEL_LOG_USER_PROMPTS is off.
_REDACTED = "<REDACTED>"
# No single event lasts a day: a longer duration is a bad value, not a call to draw.
_MAX_DURATION_MS = 86_400_000.0


def is_claude_code_span(name: str) -> bool:
    """A span of Claude Code's own (beta) tracing: its model calls are counted from the log
    events, which carry the cost; counting the spans too would count every call twice."""
    return name.startswith(_PREFIX)


def _is_claude_code(event: LogEvent, name: str) -> bool:
    """Bare names like `api_request` are Claude Code's only when its marks say so."""
    return (
        event.event_name.startswith(_PREFIX)
        or event.body == _PREFIX + name
        or event.service_name == SERVICE_NAME
    )


def _text(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if type(value) in (int, float) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    """A finite number from a number or a numeric string; None otherwise."""
    if type(value) is str:
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if type(value) is int:
        value = float(value)
    if type(value) is float and math.isfinite(value):
        return value
    return None


def _duration_ns(value: Any) -> int:
    ms = _number(value)
    if ms is None or not 0 <= ms <= _MAX_DURATION_MS:
        return 0
    return int(ms * 1e6)


def _cost(value: Any) -> float | None:
    usd = _number(value)
    return usd if usd is not None and usd >= 0 else None


def _flag(value: Any) -> bool | None:
    if type(value) is bool:
        return value
    if type(value) is str and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


class _Turn:
    """The ids and the root span of the turn an event belongs to."""

    def __init__(self, event: LogEvent) -> None:
        a = event.attributes
        self.session = _text(a.get("session.id"))
        self.prompt = _text(a.get("prompt.id"))
        self.trace_id = derived_id(DIALECT, self.session, self.prompt, size=16)
        self.span_id = derived_id(DIALECT, "turn", self.session, self.prompt)
        # Events of one session are numbered; with the time this tells repeated events apart.
        self.event_key = (_text(a.get("event.sequence")), event.time_unix_nano)

    def step_id(self, kind: str, *parts: object) -> str:
        return derived_id(DIALECT, kind, self.session, self.prompt, *parts)

    def root(
        self, event: LogEvent, start: int, end: int, messages: str | None = None
    ) -> DerivedSpan:
        return agent_run(
            self.trace_id,
            self.span_id,
            agent_name=AGENT_NAME,
            dialect=DIALECT,
            conversation_id=self.session,
            start=start,
            end=end,
            attributes={"session.id": self.session, "prompt.id": self.prompt},
            input_messages=messages,
        )

    def step(
        self,
        event: LogEvent,
        span_id: str,
        name: str,
        kind: int,
        duration_ns: int,
        error: str | None,
        genai: dict[str, Any],
    ) -> list[DerivedSpan]:
        end = event.time_unix_nano
        start = max(0, end - duration_ns)
        step = turn_step(
            self.trace_id,
            span_id,
            self.span_id,
            name=name,
            kind=kind,
            start=start,
            end=end,
            error=error,
            attributes=event.attributes,
            genai={**genai, "conversation_id": self.session, "dialect": DIALECT},
        )
        return [self.root(event, start, end), step]


def user_prompt(event: LogEvent) -> list[DerivedSpan]:
    if not _is_claude_code(event, "user_prompt"):
        return []
    turn = _Turn(event)
    prompt = event.attributes.get("prompt")
    messages = None
    if type(prompt) is str and prompt and prompt != _REDACTED:
        messages = prompt_message(prompt)
    time = event.time_unix_nano
    return [turn.root(event, time, time, messages)]


def _call(
    event: LogEvent, name: str, error: str | None, extra: dict[str, Any]
) -> list[DerivedSpan]:
    if not _is_claude_code(event, name):
        return []
    a = event.attributes
    turn = _Turn(event)
    model = _text(a.get("model"))
    genai = {
        "span_role": "llm",
        "operation": "chat",
        "provider": PROVIDER,
        # Claude Code names one model per event: the one the API answered with.
        "request_model": model,
        "response_model": model,
        **extra,
    }
    return turn.step(
        event,
        turn.step_id("call", *turn.event_key),
        f"chat {model}" if model else "chat",
        SPAN_KIND_CLIENT,
        _duration_ns(a.get("duration_ms")),
        error,
        genai,
    )


def api_request(event: LogEvent) -> list[DerivedSpan]:
    a = event.attributes
    extra = {
        "input_tokens": as_count(a.get("input_tokens")),
        "output_tokens": as_count(a.get("output_tokens")),
        "cache_read_tokens": as_count(a.get("cache_read_tokens")),
        "cache_write_tokens": as_count(a.get("cache_creation_tokens")),
        "reported_cost_usd": _cost(a.get("cost_usd")),
    }
    return _call(event, "api_request", None, extra)


def api_error(event: LogEvent) -> list[DerivedSpan]:
    a = event.attributes
    status = _text(a.get("status_code"))
    message = _text(a.get("error")) or (f"HTTP {status}" if status else "error")
    return _call(event, "api_error", message, {"error_type": status or "error"})


def _tool_key(turn: _Turn, a: dict[str, Any]) -> tuple[object, ...]:
    """The tool call id pairs a decision with its result; without one, each event is a step."""
    call_id = _text(a.get("tool_use_id"))
    return (call_id,) if call_id else turn.event_key


def _arguments(a: dict[str, Any]) -> str | None:
    """The tool's input as sent to it (OTEL_LOG_TOOL_DETAILS=1), else its summarized parameters."""
    return _text(a.get("tool_input")) or _text(a.get("tool_parameters"))


def tool_result(event: LogEvent) -> list[DerivedSpan]:
    if not _is_claude_code(event, "tool_result"):
        return []
    a = event.attributes
    turn = _Turn(event)
    tool = _text(a.get("tool_name"))
    error = None
    if _flag(a.get("success")) is False:
        error = _text(a.get("error")) or "tool failed"
    genai = {
        "span_role": "tool",
        "tool_name": tool,
        "tool_call_id": _text(a.get("tool_use_id")),
        "tool_arguments": _arguments(a),
        "error_type": None if error is None else "tool_error",
    }
    return turn.step(
        event,
        turn.step_id("tool", *_tool_key(turn, a)),
        f"execute_tool {tool}" if tool else "execute_tool",
        SPAN_KIND_INTERNAL,
        _duration_ns(a.get("duration_ms")),
        error,
        genai,
    )


def tool_decision(event: LogEvent) -> list[DerivedSpan]:
    if not _is_claude_code(event, "tool_decision"):
        return []
    a = event.attributes
    turn = _Turn(event)
    tool = _text(a.get("tool_name"))
    decision = _text(a.get("decision"))
    source = _text(a.get("source"))
    genai = {
        "span_role": "tool",
        "tool_name": tool,
        "tool_call_id": _text(a.get("tool_use_id")),
        # Only a decision's summary of the input (`tool_parameters`): a tool that runs gets
        # its whole input from its result, and a row's first value is never overwritten.
        "tool_arguments": _arguments(a) if decision != "accept" else None,
        "tool_decision": f"{decision} ({source})" if decision and source else decision,
    }
    return turn.step(
        event,
        turn.step_id("tool", *_tool_key(turn, a)),
        f"execute_tool {tool}" if tool else "execute_tool",
        SPAN_KIND_INTERNAL,
        0,
        None,
        genai,
    )


# Event name -> mapper; client_events.py registers them (bare and prefixed names).
EVENTS = {
    "user_prompt": user_prompt,
    "api_request": api_request,
    "api_error": api_error,
    "tool_result": tool_result,
    "tool_decision": tool_decision,
}
