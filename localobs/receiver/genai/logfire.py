"""Pydantic Logfire's streamed model calls: one request span and one log span, made one call.

Logfire's LLM instrumentation (`logfire.instrument_openai`, `instrument_anthropic`) records a
streamed call twice: a span `Chat Completion with {request_data[model]!r}` that ends when the
stream object is returned (request and input messages, no answer, no usage), and, once the stream
is consumed, a zero-length log span `streaming response from {request_data[model]!r} took
{duration:.2f}s` (`logfire.span_type` "log") that repeats the request and adds the answer, the
finish reasons, the usage when the server sent it, and `duration` (seconds). The log span is
emitted in the context the request started in, so it is a sibling of the request span (or the
root of a trace of its own), never its child: the two cannot be joined by id.

So neither sent span is counted as a call; a call derived from the log span is, spanning the
streamed duration and carrying everything both halves said (the log span repeats the request).
It is marked `derived_from = 'spans'`: exports leave it out and give back both spans as sent.
Logfire sends its lists as JSON strings (finish reasons as '["stop"]'); record.str_list reads them.
"""

from __future__ import annotations

from typing import Any

from localobs.receiver.genai.derived import (
    SPAN_KIND_CLIENT,
    DerivedSpan,
    derived_id,
    span_row,
)
from localobs.receiver.genai.record import CALL_FIELDS, Call, as_float

DERIVED_FROM_SPANS = "spans"
_STREAM_LOG = "streaming response from "
_ROLE, _OPERATION = CALL_FIELDS.index("span_role"), CALL_FIELDS.index("operation")
_REQUEST_MODEL, _RESPONSE_MODEL = (
    CALL_FIELDS.index("request_model"),
    CALL_FIELDS.index("response_model"),
)
_INPUT_TOKENS, _OUTPUT_TOKENS = (
    CALL_FIELDS.index("input_tokens"),
    CALL_FIELDS.index("output_tokens"),
)
_OUTPUT, _FINISH = CALL_FIELDS.index("output_messages"), CALL_FIELDS.index("finish_reasons")
STATUS_ERROR = 2


def is_stream_response(a: dict[str, Any]) -> bool:
    """The log span Logfire emits once a streamed answer was consumed."""
    template = a.get("logfire.msg_template")
    return (
        a.get("logfire.span_type") == "log"
        and type(template) is str
        and template.startswith(_STREAM_LOG)
        and as_float(a.get("duration")) is not None
    )


def is_stream_request(a: dict[str, Any], call: Call, status_code: int) -> bool:
    """A request span of Logfire's LLM instrumentation whose answer came as a stream: a model
    call that recorded no answer, no finish reason, no usage and no response id, and did not
    fail (a non-streamed call always records them; a streamed one's are in the stream log
    span). Other Logfire spans (Pydantic AI's, say) are calls as sent."""
    request = a.get("request_data")
    return (
        a.get("logfire.span_type") == "span"
        and "logfire.msg_template" in a
        and type(request) is str  # only Logfire's LLM-provider instrumentation sends it
        and '"stream":false' not in request.replace(" ", "")
        and call[_OPERATION] is not None
        and call[_OUTPUT] is None
        and call[_FINISH] is None
        and call[_INPUT_TOKENS] is None
        and call[_OUTPUT_TOKENS] is None
        and "gen_ai.response.id" not in a
        and status_code != STATUS_ERROR
        and call[CALL_FIELDS.index("error_type")] is None
    )


def not_a_call(call: Call) -> Call:
    """The span's columns with it no longer counted as a model call (its content stays, so the
    span's attributes can still be rebuilt for export)."""
    return (*call[:_ROLE], "other", None, *call[_OPERATION + 1 :])


def stream_call(
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    end_unix_nano: int,
    status: tuple[int, str | None],
    a: dict[str, Any],
    call: Call,
    envelope: tuple[str | None, str | None, tuple[int, int]],
) -> tuple[Any, ...]:
    """The spans row of the call derived from a stream log span (`call`: its normalized columns;
    `envelope`: service name, scope name, resource and scope ids)."""
    # Untrusted: a negative, huge or odd duration must not move the start past the end or 0.
    seconds = min(max(as_float(a.get("duration")) or 0.0, 0.0), end_unix_nano / 1e9)
    duration_ns = round(seconds * 1e9)
    model = call[_RESPONSE_MODEL] or call[_REQUEST_MODEL]
    span = DerivedSpan(
        trace_id=trace_id,
        span_id=derived_id(trace_id, span_id, "logfire-stream"),
        parent_span_id=parent_span_id,
        name=f"{call[_OPERATION]} {model}" if model else str(call[_OPERATION]),
        kind=SPAN_KIND_CLIENT,
        start_unix_nano=max(0, end_unix_nano - duration_ns),
        end_unix_nano=end_unix_nano,
        status_code=status[0],
        status_message=status[1],
        attributes={"localobs.derived_from_span": span_id},
        genai={**dict(zip(CALL_FIELDS, call, strict=True)), "derived_from": DERIVED_FROM_SPANS},
    )
    service_name, scope_name, ids = envelope
    return span_row(span, service_name, scope_name, ids)
