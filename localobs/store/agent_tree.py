"""One trace's spans as agent steps: parents, children, and what kind of step each span is.

Runs and conversations are both read through a trace: what belongs to a run or a turn is decided
by the span tree (its descendants), never by attributes a framework may or may not repeat on
every span. A parent id that loops back is cut, so a malformed trace cannot hang a query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from localobs.store.cost import COST_EXTRAS_SQL, UNKNOWN, Cost, row_cost

# Step kinds as the viewer and the CLI name them, by span_role.
STEP_KINDS: dict[str | None, str] = {
    "llm": "model call",
    "embedding": "model call",
    "agent": "sub-agent",
    "tool": "tool",
    "retriever": "retrieval",
    "reranker": "retrieval",
    "workflow": "workflow step",
    "chain": "workflow step",
    "task": "workflow step",
}
OTHER_STEP = "step"
STATUS_ERROR = 2


class StepRow(NamedTuple):
    """The columns of one span that agent and conversation queries need (`key` is the rowid)."""

    key: int
    span_id: str
    parent_span_id: str | None
    name: str
    start: int
    end: int
    status_code: int
    status_message: str | None
    error_type: str | None
    span_role: str | None
    operation: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    agent_name: str | None
    tool_name: str | None
    tool_call_id: str | None
    tool_arguments: str | None
    tool_result: str | None
    tool_decision: str | None
    workflow_name: str | None
    conversation_id: str | None
    provider: str | None
    cost_extras: str | None  # COST_EXTRAS_SQL's value (model calls only)

    @property
    def is_call(self) -> bool:
        return self.operation is not None

    @property
    def cost(self) -> Cost:
        """A model call's cost (store/cost.py); unknown for any other step."""
        if not self.is_call:
            return UNKNOWN
        return row_cost(
            self.provider, self.model, self.input_tokens, self.output_tokens, self.cost_extras
        )

    @property
    def error(self) -> str | None:
        """What went wrong, or None: the error type, else the error status's message."""
        if self.error_type is not None:
            return self.error_type
        if self.status_code == STATUS_ERROR:
            return self.status_message or "error"
        return None

    @property
    def duration_ms(self) -> float:
        return max(0, self.end - self.start) / 1e6


_COLUMNS = (
    "rowid, span_id, parent_span_id, name, start_time_unix_nano, end_time_unix_nano,"
    " coalesce(status_code, 0), status_message, error_type, span_role, operation,"
    " coalesce(response_model, request_model), input_tokens, output_tokens, agent_name,"
    " tool_name, tool_call_id, tool_arguments, tool_result, tool_decision, workflow_name,"
    " conversation_id, provider,"
    f" CASE WHEN operation IS NOT NULL THEN {COST_EXTRAS_SQL} END"
)


@dataclass(frozen=True)
class TraceSteps:
    trace_id: str
    by_id: dict[str, StepRow]
    children: dict[str, list[StepRow]]
    # calls_under's answers: a trace's runs and turns share its walks.
    _calls: dict[str, tuple[StepRow, ...]] = field(default_factory=dict, compare=False, repr=False)

    def ancestors(self, span_id: str) -> Iterator[StepRow]:
        """Parent, grandparent, ... of a span; stops at a parent not stored or a cycle."""
        seen = {span_id}
        row = self.by_id.get(span_id)
        while row is not None and row.parent_span_id is not None:
            parent = row.parent_span_id
            if parent in seen:
                return
            seen.add(parent)
            row = self.by_id.get(parent)
            if row is not None:
                yield row

    def subtree(self, span_id: str) -> list[tuple[int, StepRow]]:
        """(depth, row) of a span and its descendants, depth first, siblings by start time."""
        root = self.by_id.get(span_id)
        if root is None:
            return []
        ordered: list[tuple[int, StepRow]] = []
        seen: set[str] = set()
        stack = [(0, root)]
        while stack:
            depth, row = stack.pop()
            if row.span_id in seen:
                continue
            seen.add(row.span_id)
            ordered.append((depth, row))
            children = self.children.get(row.span_id, [])
            stack.extend((depth + 1, child) for child in reversed(children))
        return ordered

    def calls_under(self, span_id: str) -> tuple[StepRow, ...]:
        """The model calls at or below a span, by start time (a turn's or a run's calls)."""
        calls = self._calls.get(span_id)
        if calls is None:
            found = [row for _depth, row in self.subtree(span_id) if row.is_call]
            calls = self._calls[span_id] = tuple(
                sorted(found, key=lambda row: (row.start, row.key))
            )
        return calls

    def is_nested_run(self, row: StepRow) -> bool:
        """An agent run inside another agent's run (a sub-agent), not a run of its own."""
        return any(parent.span_role == "agent" for parent in self.ancestors(row.span_id))

    def step_kind(self, row: StepRow) -> str:
        return STEP_KINDS.get(row.span_role, OTHER_STEP)


_CHUNK = 500  # trace ids per query when several traces are read at once


def load_trace(conn: sqlite3.Connection, trace_id: str) -> TraceSteps:
    rows = [
        StepRow(*row)
        for row in conn.execute(f"SELECT {_COLUMNS} FROM spans WHERE trace_id = ?", (trace_id,))
    ]
    return _steps(trace_id, rows)


def load_traces(conn: sqlite3.Connection, trace_ids: list[str]) -> dict[str, TraceSteps]:
    """Many traces in a few queries: a long conversation reads one trace per turn."""
    rows: dict[str, list[StepRow]] = {trace_id: [] for trace_id in trace_ids}
    for start in range(0, len(trace_ids), _CHUNK):
        chunk = trace_ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for found in conn.execute(
            f"SELECT trace_id, {_COLUMNS} FROM spans WHERE trace_id IN ({marks})", chunk
        ):
            rows[found[0]].append(StepRow(*found[1:]))
    return {trace_id: _steps(trace_id, found) for trace_id, found in rows.items()}


def _steps(trace_id: str, rows: list[StepRow]) -> TraceSteps:
    by_id = {row.span_id: row for row in rows}
    children: dict[str, list[StepRow]] = {}
    for row in rows:
        parent = row.parent_span_id
        if parent is not None and parent != row.span_id and parent in by_id:
            children.setdefault(parent, []).append(row)
    for group in children.values():
        group.sort(key=lambda row: (row.start, row.key))
    return TraceSteps(trace_id, by_id, children)


class TraceCache:
    """Traces loaded once per query, however many runs or turns share them."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._traces: dict[str, TraceSteps] = {}

    def get(self, trace_id: str) -> TraceSteps:
        trace = self._traces.get(trace_id)
        if trace is None:
            trace = self._traces[trace_id] = load_trace(self._conn, trace_id)
        return trace

    def preload(self, trace_ids: list[str]) -> None:
        """Read the traces not read yet, several per query."""
        missing = list(dict.fromkeys(t for t in trace_ids if t not in self._traces))
        if missing:
            self._traces.update(load_traces(self._conn, missing))
