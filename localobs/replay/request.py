"""The request a captured call made, rebuilt as an OpenAI-style chat request to send again.

The model is left to the backend (mapped to the local one) and the seed is dropped, so that
runs at a temperature above 0 differ. Calls whose output type was JSON are replayed
JSON-constrained, so that the spread can say how many answers parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from localobs.store.calls import CallDetail
from localobs.store.messages import Message, Part

# The original's max_tokens when it did not say: enough for a short answer on a small model.
DEFAULT_MAX_TOKENS = 256
# Operations whose request is a conversation a chat model can answer again.
REPLAYABLE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    messages: list[dict[str, Any]]
    max_tokens: int
    temperature: float
    top_p: float | None
    json_output: bool
    tools: list[Any] = field(default_factory=list)

    def with_temperature(self, temperature: float | None) -> ReplayRequest:
        if temperature is None:
            return self
        return ReplayRequest(
            self.messages,
            self.max_tokens,
            temperature,
            self.top_p,
            self.json_output,
            self.tools,
        )


class NotReplayable(ValueError):
    """The call carries nothing to send again (no messages captured)."""


def _text(parts: tuple[Part, ...] | list[Part]) -> str:
    return "".join(part.content or "" for part in parts if part.type in ("text", "unknown"))


def _openai_message(message: Message) -> list[dict[str, Any]]:
    """One stored message as OpenAI messages (a tool response part becomes a `tool` message)."""
    role = message.role if message.role in ("system", "user", "assistant", "tool") else "user"
    out: list[dict[str, Any]] = []
    calls = [part for part in message.parts if part.type == "tool_call"]
    for part in message.parts:
        if part.type == "tool_call_response":
            out.append({"role": "tool", "tool_call_id": part.id or "", "content": part.content})
    text = _text(message.parts)
    if text or calls or not out:
        entry: dict[str, Any] = {"role": role, "content": text}
        if calls:
            entry["tool_calls"] = [
                {
                    "id": part.id or f"call_{index}",
                    "type": "function",
                    "function": {"name": part.name or "", "arguments": part.arguments or "{}"},
                }
                for index, part in enumerate(calls)
            ]
        out.insert(0, entry)
    return out


def _tools(attributes: dict[str, Any]) -> list[Any]:
    value = attributes.get("gen_ai.tool.definitions")
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
    return value if isinstance(value, list) else []


def request_from_call(detail: CallDetail) -> ReplayRequest:
    if detail.operation not in REPLAYABLE_OPERATIONS:
        raise NotReplayable(
            f"call {detail.call_id} is an {detail.operation!r} call: only chat calls are replayed"
        )
    messages: list[dict[str, Any]] = []
    system = _text(detail.system_instructions)
    if system:
        messages.append({"role": "system", "content": system})
    for message in detail.input_messages:
        messages.extend(_openai_message(message))
    if not any(message["role"] != "system" for message in messages):
        raise NotReplayable(
            f"call {detail.call_id} has no captured input messages to send again "
            "(was it sent without content capture?)"
        )
    output_type = detail.attributes.get("gen_ai.output.type")
    return ReplayRequest(
        messages=messages,
        max_tokens=detail.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=detail.temperature if detail.temperature is not None else 0.7,
        top_p=detail.top_p,
        json_output=output_type == "json",
        tools=_tools(detail.attributes),
    )


def original_text(detail: CallDetail) -> str:
    """The text the original call answered, to find its cluster among the replays."""
    return "\n".join(_text(message.parts) for message in detail.output_messages)
