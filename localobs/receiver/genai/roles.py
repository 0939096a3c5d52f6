"""The span roles the viewer shows, and how each dialect's kind maps to them.

Vocabulary: llm, embedding, agent, tool, retriever, reranker, workflow, task, chain, guardrail,
evaluator, other. `llm` and `embedding` are model calls (they get an `operation`); the others only
place the span in the agent/tool/retrieval structure of a trace.
"""

from __future__ import annotations

# gen_ai.operation.name -> (span_role, is a model call)
OPERATIONS: dict[str, tuple[str, bool]] = {
    "chat": ("llm", True),
    "text_completion": ("llm", True),
    "generate_content": ("llm", True),
    "responses": ("llm", True),
    "embeddings": ("embedding", True),
    "invoke_agent": ("agent", False),
    # One turn of a conversation handled by an agent (semantic-conventions-genai): a run too.
    "handle_conversation_turn": ("agent", False),
    # Setting an agent up is a step, not a run: the agents list counts only runs.
    "create_agent": ("task", False),
    "plan": ("task", False),
    "gen_ai.invocation.internal": ("task", False),
    "execute_tool": ("tool", False),
    "retrieval": ("retriever", False),
    "invoke_workflow": ("workflow", False),
    "execute_task": ("task", False),
    # One step of an agent's loop (the Vercel AI SDK 7's `@ai-sdk/otel`): a step, not a run.
    "agent_step": ("task", False),
}

# traceloop.span.kind (OpenLLMetry / traceloop-sdk decorators)
TRACELOOP_KINDS: dict[str, str] = {
    "workflow": "workflow",
    "task": "task",
    "agent": "agent",
    "tool": "tool",
}

# llm.request.type (OpenLLMetry) -> semconv operation name
LLM_REQUEST_TYPES: dict[str, str] = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
}

# openinference.span.kind
OPENINFERENCE_KINDS: dict[str, str] = {
    "LLM": "llm",
    "EMBEDDING": "embedding",
    "AGENT": "agent",
    "TOOL": "tool",
    "RETRIEVER": "retriever",
    "RERANKER": "reranker",
    "CHAIN": "chain",
    "GUARDRAIL": "guardrail",
    "EVALUATOR": "evaluator",
}

# Operation names that may lead a span name ("chat gpt-4o"), for spans older than the attribute.
_NAME_OPERATIONS = ("chat", "text_completion", "generate_content", "embeddings")


def operation_from_name(name: str) -> str:
    """Semconv before 1.27 had no gen_ai.operation.name: the span name's first word, else chat."""
    first = name.split(" ", 1)[0]
    return first if first in _NAME_OPERATIONS else "chat"
