"""The coding agents' log events that stand for calls, tool steps and turns, by event name.

Each client's module (one per client) maps its own events to span rows (see derived.py); this
registry is the one place that says which event name goes to which mapper.
"""

from __future__ import annotations

from localobs.receiver.faults import FAULTS
from localobs.receiver.genai import gemini_cli
from localobs.receiver.genai.derived import DerivedSpan, LogEvent, Mapper

# Event name (the record's event_name, or its `event.name` attribute) -> the mapper for it.
MAPPERS: dict[str, Mapper] = {
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
