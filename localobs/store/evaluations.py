"""Evaluation results of a model call: the GenAI conventions' `gen_ai.evaluation.result` events.

An evaluator (an LLM judge, a rule, a person) reports its verdict on a call as that event, sent as
a log record or as a span event, parented to the span it evaluates. Both are found here at read
time by the evaluated span's ids, so an evaluation that arrives before its call (evaluators often
run on another process's schedule) shows up as soon as the call does.
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


def call_evaluations(
    conn: sqlite3.Connection, trace_id: str, span_id: str
) -> tuple[Evaluation, ...]:
    """The evaluations of the span (trace_id, span_id), oldest first: its log events (through
    the partial index `evaluation_events`) and its own span events."""
    found = [
        _evaluation(_loads(attributes), time, LOG)
        for attributes, time in conn.execute(
            "SELECT attributes, coalesce(nullif(time_unix_nano, 0), observed_time_unix_nano)"
            " FROM logs INDEXED BY evaluation_events"
            f" WHERE trace_id = ? AND span_id = ? AND event_name = '{EVALUATION_EVENT}'",
            (trace_id, span_id),
        )
    ]
    row = conn.execute(
        "SELECT events FROM spans WHERE trace_id = ? AND span_id = ?", (trace_id, span_id)
    ).fetchone()
    events = _loads(row[0]) if row and row[0] and EVALUATION_EVENT in row[0] else None
    for event in events if isinstance(events, list) else ():
        if isinstance(event, dict) and event.get("name") == EVALUATION_EVENT:
            time = event.get("time_unix_nano")
            found.append(_evaluation(event.get("attributes"), time, SPAN_EVENT))
    found.sort(key=lambda evaluation: evaluation.time_unix_nano or 0)
    return tuple(found)
