"""Gemini CLI's log events as model calls, tool steps and turns (dialect `gemini_cli`).

Gemini CLI (`telemetry` in ~/.gemini/settings.json) sends OTLP/JSON logs, metrics and spans. Its
log events carry everything about a call: `gemini_cli.api_response` the model, the four token
counts (input, output, cached, thoughts), the duration and, with `logPrompts`, the answer;
`gemini_cli.api_error` a failed call; `gemini_cli.tool_call` a tool run (name, arguments, success,
duration, decision); `gemini_cli.user_prompt` the user's message. Each names its session
(`session.id`: the conversation) and its prompt (`prompt_id`: the turn).

Its spans (`llm_call`, `tool_call`, `schedule_tool_calls`) are no use for the same purpose: each
model call is a trace of its own (no turn holds them), its token counts are sent only with
`telemetry.traces` on and never the cached or thought counts. So the calls come from the log
events alone, one root `agent` span per turn holding them, and Gemini CLI's own spans and its
`gen_ai.client.inference.operation.details` events are stored as sent but read as no call
(their scope is in client_events.CALLS_FROM_EVENTS): a call never appears twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
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
from localobs.receiver.genai.gemini_content import from_contents, from_stream, parse_json_text
from localobs.receiver.genai.record import (
    TooDeep,
    as_count,
    as_float,
    as_str,
    dumps_parsed,
    str_list,
)

DIALECT = "gemini_cli"
AGENT_NAME = "Gemini CLI"
# The instrumentation scope of everything Gemini CLI sends (its spans and its log events).
SCOPE = "gemini-cli"
API_REQUEST = "gemini_cli.api_request"
API_RESPONSE = "gemini_cli.api_response"
API_ERROR = "gemini_cli.api_error"
TOOL_CALL = "gemini_cli.tool_call"
USER_PROMPT = "gemini_cli.user_prompt"

STATUS_OK = 1  # OTLP's STATUS_CODE_OK: a step without an error
# Content moved into the message columns: the derived row's attributes leave it out.
_CONTENT_KEYS = frozenset(("response_text", "request_text", "prompt"))

# Requests waiting for their response, at most this many (the oldest are given up).
MAX_WAITING_REQUESTS = 1024
# Turns whose start is remembered (the oldest are forgotten): far more than run at once.
MAX_OPEN_TURNS = 4096


class _Requests:
    """What each call was sent: `api_request` carries it, its `api_response` (or `api_error`)
    does not, and nothing but order ties the two. Requests of one session, prompt, role and
    model are answered in order (Gemini CLI awaits each before the next), so a response takes
    the oldest request waiting under its key. A response whose request was never seen (sent
    before localobs started, or given up) is a call without its input, nothing worse."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: OrderedDict[tuple[Any, ...], deque[str | None]] = OrderedDict()
        self._count = 0

    @staticmethod
    def key(a: dict[str, Any]) -> tuple[Any, ...]:
        model = as_str(a.get("model")) or as_str(a.get("model_name"))
        return (_id_text(a.get("session.id")), _id_text(a.get("prompt_id")), a.get("role"), model)

    def put(self, a: dict[str, Any], messages: str | None) -> None:
        key = self.key(a)
        with self._lock:
            self._waiting.setdefault(key, deque()).append(messages)
            self._count += 1
            while self._count > MAX_WAITING_REQUESTS:
                _, oldest = self._waiting.popitem(last=False)
                self._count -= len(oldest)

    def take(self, a: dict[str, Any]) -> str | None:
        key = self.key(a)
        with self._lock:
            waiting = self._waiting.get(key)
            if not waiting:
                return None
            messages = waiting.popleft()
            self._count -= 1
            if not waiting:
                del self._waiting[key]
            return messages


_REQUESTS = _Requests()


class _Prompts:
    """When each prompt's turn began. A turn is a session's `prompt_id`, but a headless run
    (`gemini -p`) uses the session id as its prompt id, so every run that resumes a session
    (`--resume`) repeats it: a turn is the prompt id since its latest `user_prompt`. Events of
    a turn that began before localobs started make a turn of their own (with no question)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._began: OrderedDict[tuple[str | None, str | None], int] = OrderedDict()

    def begin(self, key: tuple[str | None, str | None], time: int) -> None:
        with self._lock:
            self._began[key] = time
            self._began.move_to_end(key)
            if len(self._began) > MAX_OPEN_TURNS:
                self._began.popitem(last=False)

    def began(self, key: tuple[str | None, str | None]) -> int | None:
        with self._lock:
            return self._began.get(key)


_PROMPTS = _Prompts()


class _Turn:
    """The ids and tags one event's rows share: its conversation and its turn."""

    def __init__(self, event: LogEvent) -> None:
        a = event.attributes
        self.session = _id_text(a.get("session.id"))
        self.prompt = _id_text(a.get("prompt_id"))
        if event.event_name == USER_PROMPT:
            _PROMPTS.begin((self.session, self.prompt), event.time_unix_nano)
        began = _PROMPTS.began((self.session, self.prompt))
        self.trace_id = derived_id(DIALECT, self.session, self.prompt, began, size=16)
        self.span_id = derived_id(DIALECT, "turn", self.session, self.prompt, began)

    def row(self, start: int, end: int, input_messages: str | None = None) -> DerivedSpan:
        """The turn's root span, covering [start, end] (the writer stretches it over all the
        turn's events)."""
        return agent_run(
            self.trace_id,
            self.span_id,
            agent_name=AGENT_NAME,
            dialect=DIALECT,
            conversation_id=self.session,
            start=start,
            end=end,
            attributes={"session.id": self.session, "prompt_id": self.prompt},
            input_messages=input_messages,
        )

    def child(
        self,
        event: LogEvent,
        kind: str,
        name: str,
        span_kind: int,
        duration_ms: Any,
        error: str | None,
        genai: dict[str, Any],
    ) -> list[DerivedSpan]:
        """A call or tool step under the turn, ending at the event's time, and the turn row."""
        end = event.time_unix_nano
        duration = as_float(duration_ms)
        start = end - int(duration * 1e6) if duration is not None and 0 <= duration < 1e10 else end
        attributes = {
            key: value for key, value in event.attributes.items() if key not in _CONTENT_KEYS
        }
        span_id = derived_id(DIALECT, kind, name, self.session, self.prompt, end, duration)
        child = turn_step(
            self.trace_id,
            span_id,
            self.span_id,
            name=name,
            kind=span_kind,
            start=start,
            end=end,
            error=error,
            attributes=attributes,
            genai={**genai, "conversation_id": self.session, "dialect": DIALECT},
            ok_status=STATUS_OK,
        )
        return [self.row(start, end), child]


def _id_text(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if type(value) in (int, float):
        return str(value)
    return None


def _json(value: Any) -> str | None:
    """Messages as the JSON text of their column; None when there are none (or too deep)."""
    if not value:
        return None
    try:
        return dumps_parsed(value)
    except TooDeep:
        return None


def _provider(a: dict[str, Any]) -> str:
    auth = a.get("auth_type")
    return "gcp.vertex_ai" if type(auth) is str and "vertex" in auth else "gcp.gemini"


def _call_fields(a: dict[str, Any]) -> dict[str, Any]:
    model = as_str(a.get("model")) or as_str(a.get("model_name"))
    return {
        "span_role": "llm",
        "agent_name": AGENT_NAME,
        "operation": "generate_content",
        "provider": _provider(a),
        "request_model": model,
        "response_model": model,
    }


def api_response(event: LogEvent) -> list[DerivedSpan]:
    a = event.attributes
    fields = _call_fields(a)
    status = a.get("status_code")
    failed = (type(status) is int and status >= 400) or (
        type(status) is str and status.isdigit() and int(status) >= 400
    )
    error = f"HTTP {status}" if failed else None
    text = a.get("response_text")
    output = _json(from_stream(parse_json_text(text))) if text is not None else None
    genai = {
        **fields,
        "input_messages": _REQUESTS.take(a),
        "input_tokens": as_count(a.get("input_token_count")),
        "output_tokens": as_count(a.get("output_token_count")),
        "cache_read_tokens": as_count(a.get("cached_content_token_count")),
        "reasoning_tokens": as_count(a.get("thoughts_token_count")),
        "finish_reasons": str_list(a.get("finish_reasons")),
        "output_messages": output,
        "error_type": str(status) if failed else None,
    }
    name = f"generate_content {fields['request_model'] or ''}".rstrip()
    turn = _Turn(event)
    return turn.child(event, "call", name, SPAN_KIND_CLIENT, a.get("duration_ms"), error, genai)


def api_request(event: LogEvent) -> list[DerivedSpan]:
    """No row: what the call was sent waits for its response (see _Requests)."""
    text = event.attributes.get("request_text")
    messages = _json(from_contents(parse_json_text(text))) if text is not None else None
    _REQUESTS.put(event.attributes, messages)
    return []


def api_error(event: LogEvent) -> list[DerivedSpan]:
    a = event.attributes
    fields = _call_fields(a)
    message = as_str(a.get("error.message")) or as_str(a.get("error")) or "API error"
    error_type = as_str(a.get("error.type")) or _id_text(a.get("status_code")) or "error"
    duration = a.get("duration_ms", a.get("duration"))
    name = f"generate_content {fields['request_model'] or ''}".rstrip()
    genai = {**fields, "error_type": error_type, "input_messages": _REQUESTS.take(a)}
    turn = _Turn(event)
    return turn.child(event, "call", name, SPAN_KIND_CLIENT, duration, message, genai)


def tool_call(event: LogEvent) -> list[DerivedSpan]:
    a = event.attributes
    tool = as_str(a.get("function_name"))
    arguments = a.get("function_args")
    failed = a.get("success") is False
    error = (as_str(a.get("error")) or "tool failed") if failed else None
    genai = {
        "span_role": "tool",
        "agent_name": AGENT_NAME,
        "tool_name": tool,
        "tool_arguments": _arguments(arguments),
        "tool_decision": as_str(a.get("decision")),
        "error_type": (as_str(a.get("error_type")) or "error") if failed else None,
    }
    name = f"execute_tool {tool or ''}".rstrip()
    turn = _Turn(event)
    return turn.child(event, "tool", name, SPAN_KIND_INTERNAL, a.get("duration_ms"), error, genai)


def _arguments(arguments: Any) -> str | None:
    """Tool arguments as compact JSON text: Gemini CLI sends them indented, which shows as a
    screen of escaped newlines; text that is no JSON is kept as sent."""
    parsed = parse_json_text(arguments)
    if type(parsed) is str:
        return parsed or None
    if parsed is None:
        return None
    try:
        return dumps_parsed(parsed)
    except TooDeep:
        return arguments if type(arguments) is str else None


def user_prompt(event: LogEvent) -> list[DerivedSpan]:
    """The turn itself, with the user's message when prompts are logged."""
    prompt = event.attributes.get("prompt")
    message = None
    if type(prompt) is str:
        message = prompt_message(prompt)
    time = event.time_unix_nano
    return [_Turn(event).row(time, time, message)]
