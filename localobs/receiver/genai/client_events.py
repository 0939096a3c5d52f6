"""The coding agents' log events that stand for calls, tool steps and turns, by event name.

Each client's module (one per client) maps its own events to span rows (see derived.py); this
registry is the one place that says which event name goes to which mapper.
"""

from __future__ import annotations

from localobs.receiver.faults import FAULTS
from localobs.receiver.genai import claude_code, codex
from localobs.receiver.genai.derived import DerivedSpan, LogEvent, Mapper

# Event name (the record's event_name, or its `event.name` attribute) -> the mapper for it.
MAPPERS: dict[str, Mapper] = {
    # Claude Code names its events bare in `event.name` (the body says `claude_code.<name>`).
    **claude_code.EVENTS,
    **{f"claude_code.{name}": mapper for name, mapper in claude_code.EVENTS.items()},
    **dict.fromkeys(codex.EVENT_NAMES, codex.MAPPER),
}


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
