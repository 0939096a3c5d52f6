"""Evaluation results of a model call: the GenAI conventions' `gen_ai.evaluation.result` events.

An evaluator (an LLM judge, a rule, a person) reports its verdict on a call as that event, sent as
a log record or as a span event, parented to the span it evaluates (or, where it has no span
context, naming the call's `gen_ai.response.id`). All are found here at read time, so an
evaluation that arrives before its call (evaluators often run on another process's schedule)
shows up as soon as the call does.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

EVALUATION_EVENT = "gen_ai.evaluation.result"
LOG, SPAN_EVENT = "log", "span_event"


@dataclass(frozen=True, slots=True)
class Evaluation:
    name: str | None  # gen_ai.evaluation.name: the metric, e.g. "Relevance"
    score_value: float | None  # gen_ai.evaluation.score.value
    score_label: str | None  # gen_ai.evaluation.score.label, e.g. "relevant", "pass"
    explanation: str | None  # gen_ai.evaluation.explanation
    time_unix_nano: int | None
    source: str  # LOG or SPAN_EVENT: how it was sent


def _score(value: Any) -> float | None:
    """A finite number, also when sent as text (some evaluators do); None otherwise."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    score = float(value)
    return score if math.isfinite(score) else None


def _evaluation(attributes: Any, time: Any, source: str) -> Evaluation:
    a = attributes if isinstance(attributes, dict) else {}

    def text(key: str) -> str | None:
        value = a.get(key)
        return value if isinstance(value, str) and value else None

    return Evaluation(
        name=text("gen_ai.evaluation.name"),
        score_value=_score(a.get("gen_ai.evaluation.score.value")),
        score_label=text("gen_ai.evaluation.score.label"),
        explanation=text("gen_ai.evaluation.explanation"),
        time_unix_nano=time if isinstance(time, int) else None,
        source=source,
    )


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


# The response id a log record or span names (the index `evaluation_events_by_response` is on
# this very expression).
_RESPONSE_ID = (
    "(CASE WHEN json_valid(attributes)"
    " THEN json_extract(attributes, '$.\"gen_ai.response.id\"') END)"
)
_LOGS = (
    "SELECT rowid, attributes, coalesce(nullif(time_unix_nano, 0), observed_time_unix_nano)"
    " FROM logs INDEXED BY {index}"
    f" WHERE event_name = '{EVALUATION_EVENT}' AND {{where}}"
)


def call_evaluations(
    conn: sqlite3.Connection, trace_id: str, span_id: str
) -> tuple[Evaluation, ...]:
    """The evaluations of the span (trace_id, span_id), oldest first: log events parented to it
    or, naming no span, to its `gen_ai.response.id` (as the conventions allow), and its own
    span events. Each lookup goes through a partial index of evaluation events only."""
    row = conn.execute(
        f"SELECT events, {_RESPONSE_ID} FROM spans WHERE trace_id = ? AND span_id = ?",
        (trace_id, span_id),
    ).fetchone()
    logs = {
        rowid: (attributes, time)
        for rowid, attributes, time in conn.execute(
            _LOGS.format(index="evaluation_events", where="trace_id = ? AND span_id = ?"),
            (trace_id, span_id),
        )
    }
    response_id = row[1] if row is not None and isinstance(row[1], str) and row[1] else None
    if response_id is not None:
        where = f"{_RESPONSE_ID} = ? AND coalesce(span_id, '') = ''"
        for rowid, attributes, time in conn.execute(
            _LOGS.format(index="evaluation_events_by_response", where=where), (response_id,)
        ):
            logs[rowid] = (attributes, time)
    found = [_evaluation(_loads(attributes), time, LOG) for attributes, time in logs.values()]
    events = _loads(row[0]) if row and row[0] and EVALUATION_EVENT in row[0] else None
    for event in events if isinstance(events, list) else ():
        if isinstance(event, dict) and event.get("name") == EVALUATION_EVENT:
            time = event.get("time_unix_nano")
            found.append(_evaluation(event.get("attributes"), time, SPAN_EVENT))
    found.sort(key=lambda evaluation: evaluation.time_unix_nano or 0)
    return tuple(found)
