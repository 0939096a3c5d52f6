"""OpenAI Codex CLI's log events as model calls, tool steps and turns (dialect `codex`).

Codex (its `[otel]` config) sends one log record per happening, named by the `event.name`
attribute, with `conversation.id` (its session) on every record:

* `codex.user_prompt` opens a turn; `prompt` is the user's message (when `log_user_prompt` is on).
* `codex.api_request` is one HTTP request to the model provider, logged when its response
  headers arrive: `duration_ms` so far, `http.response.status_code`, `error.message`, `model`.
  Over the WebSocket transport (OpenAI's provider uses it by default) the request is a
  `codex.websocket_request` instead, logged once sent: `duration_ms`, `success`, `error.message`.
* `codex.sse_event` is one event of the streamed answer; the `response.completed` one carrying
  `input_token_count` (with cached, reasoning and cache-write counts) ends the call; its
  `ttft_ms` is the time from the end of the request's `duration_ms` (its response headers; over
  a WebSocket, its sending) to the first output item, so the call's TTFT is the two summed
  (source `TTFT_SOURCE`). `error.message` on an `sse_event` means the stream failed.
* `codex.tool_decision` (approved or denied, and by whom) and `codex.tool_result` (name,
  arguments, output, success, duration) describe one tool run, joined by `call_id`.

A model call is a request and its completion together: one row built when the completion (or a
failure) arrives, spanning from the request's start to the completion. Codex emits the
`sse_event` records outside the turn's span (no trace context, no request id), so the mapper keeps
a little state per conversation: the request in flight, the tool decisions not yet followed by a
result, the provider named at the conversation's start, the stream ends already mapped (an end
sent again in another batch makes no second call). The state is bounded; a completion whose
request this process never saw (the receiver restarted between the two) is still a call, with its
tokens, timed at its own arrival. A request shows nothing until it ends: the warm-up request Codex
sends over a new WebSocket (`generate: false`) never ends with usage, and makes no empty turn.

A turn is the records sharing Codex's trace id (the turn's span context); its derived agent-run
span (`Codex`, tagged with the conversation id) holds the calls and tool steps, so the agents and
conversations views show Codex with no special case. The derived rows live in their own trace (id
derived from the conversation and Codex's trace id, kept in the run's `codex.trace_id` attribute):
Codex's own spans, when its trace exporter is on, are its internal tracing (hundreds per turn,
tokens as strings on per-SSE-event spans, no operation, model or content), stored as sent and
never counted as calls, so each call appears once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
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
from localobs.receiver.genai.record import as_count, as_str

DIALECT = "codex"
AGENT_NAME = "Codex"
# A prompt Codex logs when `log_user_prompt` is off: not the user's words, so not shown as them.
REDACTED_PROMPT = "[REDACTED]"
MAX_CONVERSATIONS = 1024
MAX_PENDING_DECISIONS = 256
MAX_ENDED = 256
MS = 1_000_000
TTFT_SOURCE = "codex request duration_ms + completion ttft_ms"


@dataclass
class _Request:
    """A model request whose answer has not completed yet."""

    turn: str | None  # Codex's trace id of its turn
    start: int
    headers_ms: int | None  # how long the request took to its response headers
    model: str | None
    attributes: dict[str, Any]


@dataclass
class _Conversation:
    provider: str | None = None
    turn: str | None = None  # the latest turn seen (for events sent outside its span)
    request: _Request | None = None
    # The stream ends already mapped (by time and kind): one sent again makes no second call.
    ended: OrderedDict[tuple[int, str | None], None] = field(default_factory=OrderedDict)
    decisions: OrderedDict[str, str] = field(default_factory=OrderedDict)  # by tool call id


def _duration_ns(value: Any) -> int:
    """`duration_ms` as sent (Codex sends it as text); 0 when absent or not a count."""
    count = as_count(value)
    return count * MS if count is not None else 0


def _status(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 3:
        return int(value)
    return None


def _ttft_ms(headers_ms: int | None, after_headers: Any, duration_ms: float) -> float | None:
    """The call's TTFT: to its response headers, then to the first output item; None when
    either part is unknown or the sum is longer than the call."""
    rest = as_count(after_headers)
    if headers_ms is None or rest is None or headers_ms + rest > duration_ms:
        return None
    return float(headers_ms + rest)


def _is_false(value: Any) -> bool:
    """Codex logs booleans as text (`success = "false"`)."""
    return value is False or (type(value) is str and value.lower() == "false")


def _is_approved(decision: str) -> bool:
    return decision.startswith("approved")


class CodexMapper:
    """The mapper of every Codex event name (one instance: it holds the state described above)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conversations: OrderedDict[str | None, _Conversation] = OrderedDict()

    def __call__(self, event: LogEvent) -> list[DerivedSpan]:
        a = event.attributes
        with self._lock:
            conversation_id = as_str(a.get("conversation.id"))
            state = self._conversation(conversation_id)
            if event.trace_id is not None and event.event_name != "codex.conversation_starts":
                state.turn = event.trace_id
            handler = _HANDLERS.get(event.event_name)
            return handler(_Context(event, conversation_id, state)) if handler else []

    def _conversation(self, conversation_id: str | None) -> _Conversation:
        state = self._conversations.get(conversation_id)
        if state is None:
            state = self._conversations[conversation_id] = _Conversation()
            if len(self._conversations) > MAX_CONVERSATIONS:
                self._conversations.popitem(last=False)
        else:
            self._conversations.move_to_end(conversation_id)
        return state


@dataclass
class _Context:
    """One event being mapped, with its conversation's state and the rows it builds."""

    event: LogEvent
    conversation_id: str | None
    state: _Conversation

    @property
    def attributes(self) -> dict[str, Any]:
        return self.event.attributes

    @property
    def time(self) -> int:
        return self.event.time_unix_nano

    def ids(self, turn: str | None) -> tuple[str, str]:
        """(trace id, run span id) of the derived rows of `turn` (Codex's trace id)."""
        trace_id = derived_id(DIALECT, self.conversation_id, turn, size=16)
        return trace_id, derived_id(trace_id, "run")

    def run(self, turn: str | None, start: int, end: int, prompt: str | None = None) -> DerivedSpan:
        """The turn's agent-run span, covering [start, end] (the writer widens it per event)."""
        trace_id, span_id = self.ids(turn)
        return agent_run(
            trace_id,
            span_id,
            agent_name=AGENT_NAME,
            dialect=DIALECT,
            conversation_id=self.conversation_id,
            start=start,
            end=end,
            attributes={"codex.trace_id": turn or None, "conversation.id": self.conversation_id},
            input_messages=prompt_message(prompt) if prompt is not None else None,
        )

    def child(
        self,
        turn: str | None,
        key: object,
        name: str,
        kind: int,
        span: tuple[int, int],
        error: str | None,
        attributes: dict[str, Any],
        genai: dict[str, Any],
    ) -> list[DerivedSpan]:
        """A call or tool step (its id derived from `key`) under its turn's run, and the run."""
        start, end = min(span), max(span)
        trace_id, run_id = self.ids(turn)
        row = turn_step(
            trace_id,
            derived_id(trace_id, key),
            run_id,
            name=name,
            kind=kind,
            start=start,
            end=end,
            error=error,
            attributes=attributes,
            genai={**genai, "dialect": DIALECT},
        )
        return [self.run(turn, start, end), row]

    def call(
        self, request: _Request | None, key: object, error: str | None, error_type: str | None
    ) -> list[DerivedSpan]:
        """The model call of `request` (None: a completion whose request was never seen), ending
        now, with this event's token counts; its id derived from `key`, an id of the event that
        ends it (so the same end sent twice is one call)."""
        a = self.attributes
        if request is None:
            request = _Request(self.state.turn, self.time, None, as_str(a.get("model")), {})
        model = request.model or as_str(a.get("model"))
        end = max(self.time, request.start)
        ttft_ms = _ttft_ms(request.headers_ms, a.get("ttft_ms"), (end - request.start) / MS)
        genai: dict[str, Any] = {
            "span_role": "llm",
            "operation": "chat",
            "agent_name": AGENT_NAME,
            "provider": self.state.provider,
            "request_model": model,
            "input_tokens": as_count(a.get("input_token_count")),
            "output_tokens": as_count(a.get("output_token_count")),
            "cache_read_tokens": as_count(a.get("cached_token_count")),
            "cache_write_tokens": as_count(a.get("cache_write_token_count")),
            "reasoning_tokens": as_count(a.get("reasoning_token_count")),
            "error_type": error_type,
            "ttft_ms": ttft_ms,
            "ttft_source": TTFT_SOURCE if ttft_ms is not None else None,
        }
        name = f"chat {model}" if model else "chat"
        return self.child(
            request.turn,
            key,
            name,
            SPAN_KIND_CLIENT,
            (request.start, end),
            error,
            request.attributes,
            genai,
        )


def _user_prompt(ctx: _Context) -> list[DerivedSpan]:
    prompt = ctx.attributes.get("prompt")
    text = prompt if type(prompt) is str and prompt != REDACTED_PROMPT else None
    return [ctx.run(ctx.state.turn, ctx.time, ctx.time, text)]


def _conversation_starts(ctx: _Context) -> list[DerivedSpan]:
    ctx.state.provider = as_str(ctx.attributes.get("provider_name"))
    return []


def _api_request(ctx: _Context) -> list[DerivedSpan]:
    """A request in flight (its call is built when its answer completes), or a failed call.
    Also a `codex.websocket_request` (no status; `success` says whether it was sent)."""
    a = ctx.attributes
    headers_ms = as_count(a.get("duration_ms"))
    start = max(ctx.time - _duration_ns(a.get("duration_ms")), 0)
    status = _status(a.get("http.response.status_code"))
    attributes: dict[str, Any] = {
        name: a[name]
        for name in ("http.response.status_code", "attempt", "endpoint")
        if name in a and type(a[name]) in (str, int, bool)
    }
    request = _Request(ctx.state.turn, start, headers_ms, as_str(a.get("model")), attributes)
    message = as_str(a.get("error.message"))
    if _is_false(a.get("success")):
        message = message or "request failed"
    if message is None and (status is None or 200 <= status <= 299):
        # Nothing to show until it ends: a warm-up request (Codex sends one `generate: false`
        # over a new WebSocket) never does, and makes no empty turn.
        ctx.state.request = request
        return []
    ctx.state.request = None
    error_type = str(status) if status is not None else "request_failed"
    key = ("request", ctx.event.span_id or ctx.time)
    return ctx.call(request, key, message or f"HTTP {status}", error_type)


def _sse_event(ctx: _Context) -> list[DerivedSpan]:
    a = ctx.attributes
    message = as_str(a.get("error.message"))
    completed = a.get("event.kind") == "response.completed" and "input_token_count" in a
    if message is None and not completed:
        return []  # one of the many stream events in between
    kind = as_str(a.get("event.kind"))
    end = (ctx.time, kind)
    ended = ctx.state.ended
    if end in ended:
        return []
    ended[end] = None
    if len(ended) > MAX_ENDED:
        ended.popitem(last=False)
    request, ctx.state.request = ctx.state.request, None
    key = ("end", ctx.time)
    if message is not None:
        return ctx.call(request, key, message, kind or "stream_error")
    return ctx.call(request, key, None, None)


def _tool_decision(ctx: _Context) -> list[DerivedSpan]:
    """Remembered for the tool's result; a denied tool never runs, so it is a step now."""
    a = ctx.attributes
    decision = as_str(a.get("decision"))
    call_id = as_str(a.get("call_id"))
    if decision is None:
        return []
    if _is_approved(decision):
        if call_id is not None:
            pending = ctx.state.decisions
            pending[call_id] = decision
            if len(pending) > MAX_PENDING_DECISIONS:
                pending.popitem(last=False)
        return []
    source = as_str(a.get("source"))
    return _tool_step(ctx, call_id, decision, f"{decision} by {source}" if source else decision, 0)


def _tool_result(ctx: _Context) -> list[DerivedSpan]:
    a = ctx.attributes
    call_id = as_str(a.get("call_id"))
    decision = ctx.state.decisions.pop(call_id, None) if call_id is not None else None
    error = "tool failed" if _is_false(a.get("success")) else None
    return _tool_step(ctx, call_id, decision, error, _duration_ns(a.get("duration_ms")))


def _tool_step(
    ctx: _Context, call_id: str | None, decision: str | None, error: str | None, duration: int
) -> list[DerivedSpan]:
    a = ctx.attributes
    name = as_str(a.get("tool_name"))
    arguments, output = a.get("arguments"), a.get("output")
    genai = {
        "span_role": "tool",
        "tool_name": name,
        "tool_call_id": call_id,
        "tool_arguments": arguments if type(arguments) is str and arguments else None,
        "tool_result": output if type(output) is str and output else None,
        "tool_decision": decision,
    }
    attributes = {
        key: a[key]
        for key in ("tool_namespace", "mcp_server", "source", "output_truncated")
        if type(a.get(key)) in (str, int, bool) and a[key] != ""
    }
    key = ("tool", call_id) if call_id is not None else ("tool", ctx.time)
    span = (max(ctx.time - duration, 0), ctx.time)
    label = f"execute_tool {name}" if name else "execute_tool"
    return ctx.child(ctx.state.turn, key, label, SPAN_KIND_INTERNAL, span, error, attributes, genai)


_HANDLERS = {
    "codex.conversation_starts": _conversation_starts,
    "codex.user_prompt": _user_prompt,
    "codex.api_request": _api_request,
    "codex.websocket_request": _api_request,
    "codex.sse_event": _sse_event,
    "codex.tool_decision": _tool_decision,
    "codex.tool_result": _tool_result,
}

# One mapper for all of Codex's event names: they share the per-conversation state.
MAPPER = CodexMapper()
EVENT_NAMES = tuple(_HANDLERS)
