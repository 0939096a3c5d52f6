"""The agent part of a span row: which agent, tool, workflow and conversation a span names.

Every dialect says it differently: the GenAI conventions (`gen_ai.agent.*`, `gen_ai.tool.*`,
`gen_ai.workflow.name`, `gen_ai.conversation.id`), OpenInference (`agent.name`, `tool.name`,
`input.value` / `output.value`, `session.id`), OpenLLMetry's decorators (`traceloop.entity.*`,
`traceloop.association.properties.*`) and the Vercel AI SDK (`ai.toolCall.*`,
`ai.telemetry.functionId`). The values are copied, not moved: the attributes stay whole
for a lossless export, and only agent and tool spans (a small share) carry large ones.

A conversation id is only ever one the sender set (the conventions forbid synthesized ones).
Model calls, the bulk of GenAI spans, take the fast branch: a handful of dict lookups.
"""

from __future__ import annotations

from typing import Any

from localobs.receiver.genai.record import dumps
from localobs.store.schema import SPAN_COLUMNS

# The span row's agent part, after the LLM-call fields, in the order of the store's columns.
AGENT_FIELDS = SPAN_COLUMNS[SPAN_COLUMNS.index("agent_name") : SPAN_COLUMNS.index("ttft_source")]

_MODEL_CALLS = frozenset(("llm", "embedding"))
_NO_STEP = (None,) * 7  # agent_id .. workflow_name of a model call
NO_AGENT: tuple[None, ...] = (None,) * len(AGENT_FIELDS)
_TRACELOOP_PROPERTIES = "traceloop.association.properties."


def _text(value: Any) -> str | None:
    """A string as sent; a structured value (arguments sent as a map) as JSON text."""
    if value is None or value == "":
        return None
    if type(value) is str:
        return value
    try:
        return dumps(value)
    except TypeError:
        return str(value)


def _name(value: Any) -> str | None:
    return value if type(value) is str and value else None


_CONVERSATION_KEYS = (
    "gen_ai.conversation.id",
    "session.id",
    "langfuse.session.id",
    "ai.telemetry.metadata.sessionId",  # the Vercel AI SDK: the caller's metadata
    "ai.telemetry.metadata.conversationId",
    _TRACELOOP_PROPERTIES + "conversation_id",
    _TRACELOOP_PROPERTIES + "session_id",
)


_CONVERSATION_KEY_SET = frozenset(_CONVERSATION_KEYS)


def conversation_id(a: dict[str, Any]) -> str | None:
    """gen_ai.conversation.id first, then the session ids of OpenInference, Langfuse, traceloop."""
    if _CONVERSATION_KEY_SET.isdisjoint(a):  # most calls: one set operation in C
        return None
    for key in _CONVERSATION_KEYS:
        value = a.get(key)
        if value is not None:
            if type(value) is str:
                if value:
                    return value
            elif type(value) is int:
                return str(value)
    return None


def refine_role(role: str, a: dict[str, Any]) -> str:
    """A span no dialect marker placed, but naming a tool or an agent, is that step."""
    if role == "other":
        if "gen_ai.tool.name" in a or "gen_ai.tool.call.id" in a:
            return "tool"
        if "gen_ai.agent.name" in a:
            return "agent"
    return role


def agent_fields(name: str, a: dict[str, Any], role: str, dialect: str) -> tuple[Any, ...]:
    """(agent_name, agent_id, tool_name, tool_call_id, tool_arguments, tool_result,
    tool_decision, workflow_name, conversation_id) of one GenAI span with its final role."""
    if role in _MODEL_CALLS:  # the bulk of GenAI spans: a few lookups, usually no new tuple
        agent = a.get("gen_ai.agent.name")
        conversation = conversation_id(a)
        if agent is None and conversation is None:
            return NO_AGENT
        return (_name(agent), *_NO_STEP, conversation)
    if dialect == "openinference":
        return _openinference(name, a, role)
    if dialect == "vercel_ai":
        return _vercel_ai(a, role)
    if "traceloop.span.kind" in a:
        return _traceloop(name, a, role)
    return _semconv(name, a, role)


def _semconv(name: str, a: dict[str, Any], role: str) -> tuple[Any, ...]:
    get = a.get
    arguments = get("gen_ai.tool.call.arguments")
    if arguments is None:
        arguments = get("tool_arguments")  # Pydantic AI before the conventions named it
    result = get("gen_ai.tool.call.result")
    if result is None:
        result = get("tool_response")
    if role == "retriever":  # a retrieval's query and the documents it found
        if arguments is None:
            arguments = get("gen_ai.retrieval.query.text")
        if result is None:
            result = get("gen_ai.retrieval.documents")
    tool = _name(get("gen_ai.tool.name"))
    agent = _name(get("gen_ai.agent.name"))
    workflow = _name(get("gen_ai.workflow.name"))
    if role == "agent" and agent is None:
        agent = _name_after_operation(name)
    elif role == "tool" and tool is None:
        tool = _name_after_operation(name)
    elif role == "workflow" and workflow is None:
        workflow = _name_after_operation(name)
    return (
        agent,
        _text(get("gen_ai.agent.id")),
        tool,
        _text(get("gen_ai.tool.call.id")),
        _text(arguments),
        _text(result),
        _text(get("gen_ai.tool.call.decision")),
        workflow,
        conversation_id(a),
    )


def _name_after_operation(name: str) -> str | None:
    """`invoke_agent support` names the agent `support`: the conventions' span name pattern."""
    _operation, space, rest = name.partition(" ")
    return rest.strip() or None if space else None


def _openinference(name: str, a: dict[str, Any], role: str) -> tuple[Any, ...]:
    get = a.get
    agent = _name(get("agent.name")) or _name(get("gen_ai.agent.name"))
    tool = workflow = arguments = result = None
    if role == "agent":
        agent = agent or name
    elif role == "tool":
        tool = _name(get("tool.name")) or name
    elif role == "chain":
        workflow = name
    if role in ("tool", "retriever", "reranker", "guardrail", "chain", "agent"):
        arguments = _text(get("input.value"))
        result = _text(get("output.value"))
    return (
        agent,
        None,
        tool,
        _text(get("tool_call.id")) or _text(get("tool.id")),
        arguments,
        result,
        None,
        workflow,
        conversation_id(a),
    )


def _vercel_ai(a: dict[str, Any], role: str) -> tuple[Any, ...]:
    """The AI SDK names a run or workflow by the caller's `functionId`, else the SDK function."""
    get = a.get
    named = _name(get("ai.telemetry.functionId")) or _name(get("ai.operationId"))
    if role == "tool":
        return (
            None,
            None,
            _name(get("ai.toolCall.name")),
            _text(get("ai.toolCall.id")),
            _text(_either(a, "ai.toolCall.args", "ai.toolCall.input")),
            _text(_either(a, "ai.toolCall.result", "ai.toolCall.output")),
            None,
            None,
            conversation_id(a),
        )
    return (
        named if role == "agent" else None,
        None,
        None,
        None,
        None,
        None,
        None,
        named if role == "workflow" else None,
        conversation_id(a),
    )


def _either(a: dict[str, Any], older: str, newer: str) -> Any:
    value = a.get(older)
    return a.get(newer) if value is None else value


def _traceloop(name: str, a: dict[str, Any], role: str) -> tuple[Any, ...]:
    get = a.get
    entity = _name(get("traceloop.entity.name")) or name
    return (
        entity if role == "agent" else _name(get("gen_ai.agent.name")),
        None,
        entity if role == "tool" else None,
        _text(get("gen_ai.tool.call.id")),
        _text(get("traceloop.entity.input")),
        _text(get("traceloop.entity.output")),
        None,
        _name(get("traceloop.workflow.name")) or (entity if role == "workflow" else None),
        conversation_id(a),
    )
