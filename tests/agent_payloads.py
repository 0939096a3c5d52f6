"""OTLP/JSON payloads of one two-turn agent conversation, as each dialect family sends it.

Attribute names are the ones the libraries put on the wire: the GenAI conventions (latest, as
Pydantic AI 1.x and the contrib instrumentations send them), OpenInference (Phoenix's
instrumentations, e.g. for the OpenAI Agents SDK or LangChain) and OpenLLMetry's traceloop
decorators. Turn 1: an agent run whose first model call asks for a tool, the tool runs three
times in a row (a loop), a second model call gets the results; turn 2: a follow-up run with one
model call. Every run span also carries its own usage aggregate, which must never be counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

T0 = 1_780_000_000 * 10**9
MS = 1_000_000
CONVERSATION = "conv-7"
QUESTION = "What is the weather in Paris?"
FOLLOW_UP = "And tomorrow?"
TOOL = "get_weather"
ARGUMENTS = '{"city": "Paris"}'
RESULT = "sunny, 21 C"
# Model call usage: turn 1 has two calls, turn 2 one.
USAGE = [(30, 8), (52, 11), (70, 6)]
RUN_AGGREGATE = (999, 999)


def _value(item: Any) -> dict[str, Any]:
    if isinstance(item, bool):
        return {"boolValue": item}
    if isinstance(item, int):
        return {"intValue": str(item)}
    if isinstance(item, float):
        return {"doubleValue": item}
    if isinstance(item, list):
        return {"arrayValue": {"values": [_value(value) for value in item]}}
    return {"stringValue": str(item)}


@dataclass
class Trace:
    number: int
    spans: list[dict[str, Any]] = field(default_factory=list)
    _next: int = 0

    @property
    def trace_id(self) -> str:
        return f"{self.number:032x}"

    def add(
        self,
        name: str,
        start_ms: float,
        end_ms: float,
        attributes: dict[str, Any],
        parent: str | None = None,
        error: bool = False,
    ) -> str:
        self._next += 1
        span_id = f"{self.number:08x}{self._next:08x}"
        span: dict[str, Any] = {
            "traceId": self.trace_id,
            "spanId": span_id,
            "name": name,
            "kind": 1,
            "startTimeUnixNano": str(T0 + self.number * 10_000 * MS + round(start_ms * MS)),
            "endTimeUnixNano": str(T0 + self.number * 10_000 * MS + round(end_ms * MS)),
            "attributes": [{"key": k, "value": _value(v)} for k, v in attributes.items()],
        }
        if parent:
            span["parentSpanId"] = parent
        if error:
            span["status"] = {"code": 2, "message": "tool failed"}
        self.spans.append(span)
        return span_id


def body(service: str, traces: list[Trace]) -> bytes:
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                    },
                    "scopeSpans": [
                        {"scope": {"name": service}, "spans": [s for t in traces for s in t.spans]}
                    ],
                }
            ]
        }
    )


def _messages(*messages: tuple[str, list[dict[str, Any]]]) -> str:
    return orjson.dumps([{"role": role, "parts": parts} for role, parts in messages]).decode()


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _tool_calls(count: int) -> list[dict[str, Any]]:
    return [
        {"type": "tool_call", "id": f"call_{i}", "name": TOOL, "arguments": {"city": "Paris"}}
        for i in range(count)
    ]


def _tool_results(count: int) -> list[tuple[str, list[dict[str, Any]]]]:
    # Pydantic AI names the value `result`, not the conventions' `response`.
    return [
        ("tool", [{"type": "tool_call_response", "id": f"call_{i}", "result": RESULT}])
        for i in range(count)
    ]


def genai_conversation(agent: str = "weather") -> bytes:
    """GenAI conventions (latest): invoke_agent / chat / execute_tool, conversation id on runs."""
    traces = []
    for turn, question in enumerate((QUESTION, FOLLOW_UP), 1):
        t = Trace(turn)
        run = t.add(
            f"invoke_agent {agent}",
            0,
            900,
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": agent,
                "gen_ai.agent.id": "agent-1",
                "gen_ai.conversation.id": CONVERSATION,
                "gen_ai.provider.name": "openai",
                "gen_ai.usage.input_tokens": RUN_AGGREGATE[0],
                "gen_ai.usage.output_tokens": RUN_AGGREGATE[1],
            },
        )
        history = [("user", [_text(question)])]
        calls = [USAGE[0], USAGE[1]] if turn == 1 else [USAGE[2]]
        for index, (tokens_in, tokens_out) in enumerate(calls):
            start = 10 + index * 500
            answer = [("assistant", _tool_calls(3))] if turn == 1 and index == 0 else []
            if not answer:
                answer = [("assistant", [_text("Sunny.")])]
            t.add(
                "chat smollm2",
                start,
                start + 100,
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.agent.name": agent,  # as Pydantic AI names it on its calls
                    "gen_ai.request.model": "smollm2",
                    "gen_ai.usage.input_tokens": tokens_in,
                    "gen_ai.usage.output_tokens": tokens_out,
                    "gen_ai.conversation.id": CONVERSATION,
                    "gen_ai.input.messages": _messages(*history),
                    "gen_ai.output.messages": _messages(*answer),
                },
                parent=run,
            )
            history = history + answer
            if turn == 1 and index == 0:
                for i in range(3):
                    t.add(
                        f"execute_tool {TOOL}",
                        150 + i * 100,
                        200 + i * 100,
                        {
                            "gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": TOOL,
                            "gen_ai.tool.call.id": f"call_{i}",
                            "gen_ai.tool.type": "function",
                            "gen_ai.tool.call.arguments": ARGUMENTS,
                            "gen_ai.tool.call.result": RESULT,
                        },
                        parent=run,
                        error=i == 2,
                    )
                history = history + _tool_results(3)
        traces.append(t)
    return body("genai-agent", traces)


def openinference_conversation() -> bytes:
    """OpenInference: AGENT / LLM / TOOL / CHAIN span kinds with session.id on every span."""
    traces = []
    for turn, question in enumerate((QUESTION, FOLLOW_UP), 1):
        t = Trace(10 + turn)
        base = {"session.id": CONVERSATION}
        run = t.add(
            "weather",
            0,
            900,
            {
                **base,
                "openinference.span.kind": "AGENT",
                "agent.name": "weather",
                "input.value": question,
                "llm.token_count.prompt": RUN_AGGREGATE[0],
            },
        )
        chain = t.add("turn", 5, 890, {**base, "openinference.span.kind": "CHAIN"}, parent=run)
        calls = [USAGE[0], USAGE[1]] if turn == 1 else [USAGE[2]]
        for index, (tokens_in, tokens_out) in enumerate(calls):
            start = 10 + index * 500
            attributes: dict[str, Any] = {
                **base,
                "openinference.span.kind": "LLM",
                "llm.model_name": "smollm2",
                "llm.token_count.prompt": tokens_in,
                "llm.token_count.completion": tokens_out,
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": question,
            }
            if turn == 1 and index == 0:
                for i in range(3):
                    prefix = f"llm.output_messages.0.message.tool_calls.{i}.tool_call."
                    attributes[prefix + "id"] = f"call_{i}"
                    attributes[prefix + "function.name"] = TOOL
                    attributes[prefix + "function.arguments"] = ARGUMENTS
                attributes["llm.output_messages.0.message.role"] = "assistant"
            else:
                attributes["llm.output_messages.0.message.role"] = "assistant"
                attributes["llm.output_messages.0.message.content"] = "Sunny."
            t.add("ChatCompletion", start, start + 100, attributes, parent=chain)
            if turn == 1 and index == 0:
                for i in range(3):
                    t.add(
                        TOOL,
                        150 + i * 100,
                        200 + i * 100,
                        {
                            **base,
                            "openinference.span.kind": "TOOL",
                            "tool.name": TOOL,
                            "tool_call.id": f"call_{i}",
                            "input.value": ARGUMENTS,
                            "output.value": RESULT,
                        },
                        parent=chain,
                        error=i == 2,
                    )
        traces.append(t)
    return body("openinference-agent", traces)


def traceloop_conversation() -> bytes:
    """OpenLLMetry: traceloop workflow / agent / tool spans around semconv model calls, the
    conversation as an association property on every span."""
    traces = []
    for turn, question in enumerate((QUESTION, FOLLOW_UP), 1):
        t = Trace(20 + turn)
        base = {
            "traceloop.association.properties.session_id": CONVERSATION,
            "traceloop.workflow.name": "weather_flow",
        }
        workflow = t.add(
            "weather_flow.workflow",
            0,
            950,
            {**base, "traceloop.span.kind": "workflow", "traceloop.entity.name": "weather_flow"},
        )
        run = t.add(
            "weather.agent",
            0,
            900,
            {
                **base,
                "traceloop.span.kind": "agent",
                "traceloop.entity.name": "weather",
                "traceloop.entity.input": orjson.dumps({"args": [question]}).decode(),
                "gen_ai.usage.input_tokens": RUN_AGGREGATE[0],
            },
            parent=workflow,
        )
        calls = [USAGE[0], USAGE[1]] if turn == 1 else [USAGE[2]]
        for index, (tokens_in, tokens_out) in enumerate(calls):
            start = 10 + index * 500
            t.add(
                "openai.chat",
                start,
                start + 100,
                {
                    **base,
                    "llm.request.type": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "smollm2",
                    "gen_ai.usage.prompt_tokens": tokens_in,
                    "gen_ai.usage.completion_tokens": tokens_out,
                    "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.0.content": question,
                    "gen_ai.completion.0.role": "assistant",
                    **(_flat_tool_calls() if turn == 1 and index == 0 else {}),
                    **(
                        {}
                        if turn == 1 and index == 0
                        else {"gen_ai.completion.0.content": "Sunny."}
                    ),
                },
                parent=run,
            )
            if turn == 1 and index == 0:
                for i in range(3):
                    t.add(
                        f"{TOOL}.tool",
                        150 + i * 100,
                        200 + i * 100,
                        {
                            **base,
                            "traceloop.span.kind": "tool",
                            "traceloop.entity.name": TOOL,
                            "traceloop.entity.input": ARGUMENTS,
                            "traceloop.entity.output": RESULT,
                        },
                        parent=run,
                        error=i == 2,
                    )
        traces.append(t)
    return body("traceloop-agent", traces)


def _flat_tool_calls() -> dict[str, str]:
    calls = {}
    for i in range(3):
        prefix = f"gen_ai.completion.0.tool_calls.{i}."
        calls.update(
            {prefix + "id": f"call_{i}", prefix + "name": TOOL, prefix + "arguments": ARGUMENTS}
        )
    return calls


DIALECTS: dict[str, Callable[[], bytes]] = {
    "genai": genai_conversation,
    "openinference": openinference_conversation,
    "traceloop": traceloop_conversation,
}
