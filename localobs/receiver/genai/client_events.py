"""The coding agents' log events that stand for calls, tool steps and turns, by event name.

Each client's module (one per client) maps its own events to span rows (see derived.py); this
registry is the one place that says which event name goes to which mapper.
"""

from __future__ import annotations

from localobs.receiver.faults import FAULTS
from localobs.receiver.genai import claude_code, codex, gemini_cli
from localobs.receiver.genai.derived import DerivedSpan, LogEvent, Mapper

# Event name (the record's event_name, or its `event.name` attribute) -> the mapper for it.
MAPPERS: dict[str, Mapper] = {
    # Claude Code names its events bare in `event.name` (the body says `claude_code.<name>`).
    **claude_code.EVENTS,
    **{f"claude_code.{name}": mapper for name, mapper in claude_code.EVENTS.items()},
    **dict.fromkeys(codex.EVENT_NAMES, codex.MAPPER),
    gemini_cli.API_REQUEST: gemini_cli.api_request,
    gemini_cli.API_RESPONSE: gemini_cli.api_response,
    gemini_cli.API_ERROR: gemini_cli.api_error,
    gemini_cli.TOOL_CALL: gemini_cli.tool_call,
    gemini_cli.USER_PROMPT: gemini_cli.user_prompt,
}

# Instrumentation scopes of clients whose calls come from their events here: their own GenAI
# spans and `gen_ai.*` log events are stored as sent but read as no call, so that no call
# appears twice (see gemini_cli.py for why its spans cannot be the calls).
CALLS_FROM_EVENTS: frozenset[str] = frozenset((gemini_cli.SCOPE,))


def calls_from_events(scope_name: str | None, span_name: str) -> bool:
    """Whether a span belongs to a client whose calls come from its log events here: it is
    stored as sent but read as no call (Gemini CLI's spans by their scope, Claude Code's beta
    tracing by its span names), so no call is counted twice."""
    return scope_name in CALLS_FROM_EVENTS or claude_code.is_claude_code_span(span_name)


def derive(event: LogEvent) -> list[DerivedSpan]:
    """The span rows `event` stands for; [] when no mapper reads it.

    A mapper that fails on a shape nobody foresaw costs only the derived rows: the log record is
    stored as sent, and the failure is counted in FAULTS.
    """
    mapper = MAPPERS.get(event.event_name)
    if mapper is None:
        return []
    try:
        return mapper(event)
    except Exception as exc:
        FAULTS.record(f"GenAI normalization (log event {event.event_name})", exc)
        return []
