"""Which dialect a span speaks, decided by a few attribute lookups; non-GenAI spans cost no more.

Order matters where dialects overlap: the Vercel AI SDK's, OpenInference and OpenLLMetry spans may
also carry `gen_ai.*` attributes, so their own markers are checked first. Everything else with a
`gen_ai.*` marker is semconv (latest or older); a span with none of these markers is not a GenAI
span (None).
"""

from __future__ import annotations

from typing import Any

from localobs.receiver.faults import FAULTS
from localobs.receiver.genai import moved, openinference, openllmetry, semconv, ttft, vercel_ai
from localobs.receiver.genai.agents import agent_fields, refine_role
from localobs.receiver.genai.details import call_details
from localobs.receiver.genai.record import Call

STATUS_ERROR = 2


def normalize_span(
    name: str,
    attributes: dict[str, Any],
    events: list[dict[str, Any]],
    start_ns: int,
    end_ns: int,
    status_code: int,
) -> Call | None:
    """The span's GenAI columns (the tail of SPAN_COLUMNS: the LLM-call fields, the agent fields
    of `agents`, then the call details of `details`), or None for a non-GenAI span. A model
    call's TTFT and its source come from `ttft`, whatever the dialect.

    Content attributes are moved out of `attributes` (in place) into the message columns; see
    `moved` for the record that makes this reversible. A normalizer that fails on a shape nobody
    foresaw costs only the call columns: the span is stored raw, attributes untouched (nothing
    is moved before the whole span is normalized), and the failure is counted in FAULTS.
    """
    a = attributes
    if vercel_ai.OPERATION_KEY in a:
        normalize, label = vercel_ai.normalize, "vercel_ai"
    elif "openinference.span.kind" in a:
        normalize, label = openinference.normalize, "openinference"
    elif (
        "gen_ai.prompt.0.content" in a
        or "gen_ai.prompt.0.role" in a
        or "gen_ai.completion.0.content" in a
        or "gen_ai.completion.0.role" in a
        or "llm.request.type" in a
        or "traceloop.span.kind" in a
    ):
        normalize, label = openllmetry.normalize, "openllmetry"
    elif (
        "gen_ai.operation.name" in a
        or "gen_ai.provider.name" in a
        or "gen_ai.system" in a
        or "gen_ai.request.model" in a
        or "gen_ai.agent.name" in a
        or "gen_ai.tool.name" in a
        or "gen_ai.conversation.id" in a
    ):
        normalize, label = semconv.normalize, "semconv"
    else:
        return None
    moves: moved.Moves = {}
    try:
        call = normalize(name, a, events, start_ns, end_ns, moves)
        role = refine_role(call[0], a)
        agent = agent_fields(name, a, role, call[16])
        first = ttft.first_token(a, events, start_ns, end_ns) if call[1] else ttft.NONE
        details = call_details(a, first.source)
        if role is not call[0] or first.ms is not None:
            call = (role, *call[1:5], first.ms, *call[6:])
        if call[12] is None and status_code == STATUS_ERROR:
            call = (*call[:12], _exception_type(events) or "error", *call[13:])
    except Exception as exc:
        FAULTS.record(f"GenAI normalization ({label})", exc)
        return None
    moved.drop(a, moves)
    return call + agent + details


def _exception_type(events: list[dict[str, Any]]) -> str | None:
    """error.type is missing in some dialects: the recorded exception names the error."""
    for event in events:
        if event.get("name") == "exception":
            attributes = event.get("attributes")
            if type(attributes) is dict and type(attributes.get("exception.type")) is str:
                return str(attributes["exception.type"])
    return None
