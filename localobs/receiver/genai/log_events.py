"""Dialect 2: GenAI log events on /v1/logs, turned into a patch for their call's row.

Recognized by `event_name` (or the `event.name` attribute):

* `gen_ai.client.inference.operation.details` (semconv 1.37+): the whole call in attributes, with
  structured `gen_ai.input.messages` / `gen_ai.output.messages` / `gen_ai.system_instructions`;
* the older per-message events (semconv up to 1.36, openai-v2's default mode, OpenLLMetry with
  `use_legacy_attributes=False`): `gen_ai.system.message`, `gen_ai.user.message`,
  `gen_ai.assistant.message`, `gen_ai.tool.message` (body `{content, tool_calls, id}`) and
  `gen_ai.choice` (body `{index, finish_reason, message: {role, content, tool_calls}}`).

The patch is JSON text: an object with some of the call columns (messages and finish reasons as
lists, to be concatenated in arrival order; choices carry `index` to be ordered by). The store
merges patches into the span row whatever arrives first (`localobs.store.genai_join`).
"""

from __future__ import annotations

from typing import Any

import orjson

from localobs.receiver.faults import FAULTS
from localobs.receiver.genai import semconv, ttft
from localobs.receiver.genai.details import DETAIL_FIELDS, call_details
from localobs.receiver.genai.messages import (
    from_openai_message,
    from_openai_messages,
    is_message_list,
    is_part_list,
    text_part,
)
from localobs.receiver.genai.record import TooDeep, as_str, dumps_parsed

DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"


def normalize_log_event(
    event_name: str | None, attributes: dict[str, Any], body: Any
) -> str | None:
    """The JSON patch this log record brings to its call, or None when it is no GenAI event.

    A failure on a shape nobody foresaw costs only the patch (the record itself is stored as
    sent) and is counted in FAULTS.
    """
    name = event_name or attributes.get("event.name")
    if type(name) is not str or not name.startswith("gen_ai."):
        return None
    try:
        patch = _patch(name, attributes, body)
        if patch is None:
            return None
        return dumps_parsed({key: value for key, value in patch.items() if value is not None})
    except TooDeep:
        return None  # content nested too deep to write back: the record itself is stored
    except Exception as exc:
        FAULTS.record("GenAI normalization (log event)", exc)
        return None


def _patch(name: str, attributes: dict[str, Any], body: Any) -> dict[str, Any] | None:
    if name == DETAILS_EVENT:
        return _details(attributes)
    if name in _MESSAGE_EVENTS:
        return _message(_MESSAGE_EVENTS[name], attributes, _body(body))
    if name == CHOICE_EVENT:
        return _choice(attributes, _body(body))
    return None


def _body(body: Any) -> Any:
    if type(body) is str and body.startswith("{"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
    return body


def _details(a: dict[str, Any]) -> dict[str, Any]:
    (
        provider,
        request_model,
        response_model,
        input_tokens,
        output_tokens,
        temperature,
        top_p,
        max_tokens,
        _,
        error_type,
    ) = semconv.scalar_fields(a)
    role, operation = semconv.role_and_operation(
        a.get("gen_ai.operation.name"), "", request_model, response_model
    )
    reasons = a.get("gen_ai.response.finish_reasons")
    first = ttft.from_attributes(a)
    return {
        "span_role": role,
        "operation": operation,
        "provider": provider,
        "request_model": request_model,
        "response_model": response_model,
        "ttft_ms": first.ms,
        "ttft_source": first.source,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
        "finish_reasons": [r for r in reasons if type(r) is str] if type(reasons) is list else None,
        "error_type": error_type,
        "input_messages": _structured(a.get("gen_ai.input.messages"), "user"),
        "output_messages": _structured(a.get("gen_ai.output.messages"), "assistant"),
        "system_instructions": _system(a.get("gen_ai.system_instructions")),
        **{
            column: value
            for column, value in zip(DETAIL_FIELDS, call_details(a), strict=True)
            if value is not None
        },
    }


def _structured(value: Any, role: str) -> list[Any] | None:
    value = _body(value) if type(value) is str and value.startswith("[") else value
    if value is None:
        return None
    if is_message_list(value):
        return list(value)
    return from_openai_messages(value, role)


def _system(value: Any) -> list[Any] | None:
    if type(value) is str:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [text_part(value)]
    if value is None:
        return None
    return list(value) if is_part_list(value) else [text_part(dumps_parsed(value))]


def _provider(a: dict[str, Any]) -> str | None:
    return as_str(a.get("gen_ai.provider.name")) or as_str(a.get("gen_ai.system"))


def _message(role: str, a: dict[str, Any], body: Any) -> dict[str, Any] | None:
    message = from_openai_message(body if type(body) is dict else {"content": body}, role)
    message["role"] = role
    if not message["parts"]:
        return None  # content capture was off: nothing the span does not already say
    return {
        "span_role": "llm",
        "operation": "chat",
        "provider": _provider(a),
        "input_messages": [message],
    }


def _choice(a: dict[str, Any], body: Any) -> dict[str, Any] | None:
    if type(body) is not dict:
        return None
    source = body.get("message")
    source = dict(source) if type(source) is dict else {}
    if "tool_calls" in body and "tool_calls" not in source:
        source["tool_calls"] = body["tool_calls"]
    message = from_openai_message(source, "assistant")
    reason = body.get("finish_reason")
    if type(reason) is str:
        message["finish_reason"] = reason
    return {
        "span_role": "llm",
        "operation": "chat",
        "provider": _provider(a),
        "output_messages": [message],
        "finish_reasons": [reason] if type(reason) is str else None,
        "index": body.get("index") if type(body.get("index")) is int else 0,
    }
