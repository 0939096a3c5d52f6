"""Agent runs: the list (newest first) and one run as a tree of steps with per-tool figures.

A run is a span with `span_role = 'agent'` that no other agent span contains (a contained one is
a sub-agent step of its run). Its figures come from its descendants: model calls, tool calls, and
tokens summed over its model calls only; the run span's own usage attributes (an aggregate some
frameworks set) are never added, so nothing is counted twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from localobs.store.agent_tree import StepRow, TraceCache, TraceSteps, load_traces
from localobs.store.contents import expand_sql
from localobs.store.cost import sum_costs
from localobs.store.messages import parse_messages
from localobs.store.span_time import covered_ns

# The list in one statement (one snapshot, one hand-over of the GIL): the agent spans of traces
# whose summaries the writer has not refreshed yet (store/summaries.py), and the ready summaries
# of the others, newest first.
_LISTED = (
    "SELECT (SELECT json_group_array(json_array(s.start_time_unix_nano, s.rowid, s.trace_id,"
    " s.span_id)) FROM summary_dirty AS d CROSS JOIN spans AS s INDEXED BY spans_by_id"
    " ON s.trace_id = d.trace_id WHERE s.span_role = 'agent' AND s.start_time_unix_nano >= ?1),"
    " (SELECT '[' || coalesce(group_concat(item, ','), '') || ']' FROM ("
    "SELECT '[' || start_time_unix_nano || ',' || run_key || ',' || summary || ']' AS item"
    " FROM run_summaries INDEXED BY run_summaries_by_start WHERE start_time_unix_nano >= ?1"
    " AND trace_id NOT IN (SELECT trace_id FROM summary_dirty)"
    " ORDER BY start_time_unix_nano DESC, run_key DESC LIMIT ?2))"
)

# Message columns may hold references to `contents`: read their text back.
_INPUT, _OUTPUT = expand_sql("input_messages"), expand_sql("output_messages")


@dataclass(frozen=True, slots=True)
class AgentRun:
    run_id: str  # the run span's id
    trace_id: str
    agent_name: str | None
    conversation_id: str | None
    start_time_unix_nano: int
    duration_ms: float
    model_calls: int
    tool_calls: int
    input_tokens: int | None  # None: no model call of the run reported usage
    output_tokens: int | None
    error: str | None  # the run's own error
    errors: int  # steps (the run included) that failed
    sub_agents: tuple[str, ...] = ()  # agents run inside it (a workflow's agents), in order
    # Known costs of its model calls summed (None: none known), and how many calls had none: an
    # unknown price neither hides the known part nor passes for $0.
    cost_usd: float | None = None
    unpriced_calls: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallLink:
    """A tool call or tool response part of a model call's messages, and the tool execution with
    the same tool call id in the trace (None when the framework recorded none)."""

    tool_call_id: str | None
    name: str | None
    text: str | None  # arguments of a call, the response of a response
    step_span_id: str | None


@dataclass(frozen=True, slots=True)
class RunStep:
    span_id: str
    parent_span_id: str | None
    depth: int
    kind: str  # agent, sub-agent, model call, tool, retrieval, workflow step, step
    name: str
    start_offset_ms: float
    duration_ms: float
    self_time_ms: float
    error: str | None
    call_id: int | None  # a model call's id (see store/calls.py)
    model: str | None
    input_tokens: int | None  # model calls only
    output_tokens: int | None
    agent_name: str | None
    tool_name: str | None
    tool_call_id: str | None
    arguments: str | None
    result: str | None
    decision: str | None
    tool_calls: tuple[ToolCallLink, ...]  # a model call's requested tool calls
    tool_responses: tuple[ToolCallLink, ...]  # the tool results a model call was sent
    cost_usd: float | None = None  # a model call's cost (store/cost.py); None: unknown or no call
    cost_source: str | None = None


@dataclass(frozen=True, slots=True)
class ToolStat:
    tool_name: str
    count: int
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


@dataclass(frozen=True, slots=True)
class ToolTransition:
    """One tool execution followed by another in the run, and how often; a tool followed by
    itself is a loop."""

    from_tool: str
    to_tool: str
    count: int

    @property
    def is_loop(self) -> bool:
        return self.from_tool == self.to_tool


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: AgentRun
    steps: tuple[RunStep, ...]
    tools: tuple[ToolStat, ...]
    transitions: tuple[ToolTransition, ...]


def _conversation(trace: TraceSteps, row: StepRow, steps: list[StepRow]) -> str | None:
    """The run's own conversation id, else its nearest ancestor's, else its first step's."""
    if row.conversation_id is not None:
        return row.conversation_id
    for parent in trace.ancestors(row.span_id):
        if parent.conversation_id is not None:
            return parent.conversation_id
    for step in steps:
        if step.conversation_id is not None:
            return step.conversation_id
    return None


def _sum(values: list[int | None]) -> int | None:
    reported = [value for value in values if value is not None]
    return sum(reported) if reported else None


def run_summary(trace: TraceSteps, row: StepRow) -> AgentRun:
    steps = [step for _depth, step in trace.subtree(row.span_id)]
    calls = [step for step in steps if step.is_call]
    cost = sum_costs([call.cost for call in calls])
    return AgentRun(
        run_id=row.span_id,
        trace_id=trace.trace_id,
        agent_name=row.agent_name or row.name,
        conversation_id=_conversation(trace, row, steps),
        start_time_unix_nano=row.start,
        duration_ms=row.duration_ms,
        model_calls=len(calls),
        tool_calls=sum(1 for step in steps if step.span_role == "tool"),
        input_tokens=_sum([call.input_tokens for call in calls]),
        output_tokens=_sum([call.output_tokens for call in calls]),
        error=row.error,
        errors=sum(1 for step in steps if step.error is not None),
        sub_agents=tuple(
            dict.fromkeys(
                step.agent_name or step.name for step in steps[1:] if step.span_role == "agent"
            )
        ),
        cost_usd=cost.usd,
        unpriced_calls=cost.unpriced,
    )


def run_json(run: AgentRun) -> str:
    """A run's summary as the writer stores it (stdlib JSON: exact floats, integers of any
    size)."""
    return json.dumps({name: getattr(run, name) for name in AgentRun.__slots__})


def _run_from_json(fields: dict[str, Any]) -> AgentRun:
    return AgentRun(**{**fields, "sub_agents": tuple(fields["sub_agents"])})


def list_runs(
    conn: sqlite3.Connection, *, limit: int = 100, since_unix_nano: int = 0
) -> list[AgentRun]:
    """Top-level agent runs started at or after `since_unix_nano`, newest first: the summaries
    the writer keeps, and those of traces it has not refreshed yet, read here."""
    pending_json, ready_json = conn.execute(_LISTED, (since_unix_nano, limit)).fetchone()
    runs = [(start, key, _run_from_json(fields)) for start, key, fields in json.loads(ready_json)]
    pending = sorted(json.loads(pending_json), reverse=True)
    # Candidates a batch at a time, newest first: each makes one run at most (a sub-agent none).
    found = 0
    while found < limit and pending:
        batch, pending = pending[: limit - found], pending[limit - found :]
        traces = load_traces(conn, sorted({trace_id for _s, _k, trace_id, _id in batch}))
        for start, key, trace_id, span_id in batch:
            trace = traces[trace_id]
            row = trace.by_id.get(span_id)
            if row is not None and not trace.is_nested_run(row):
                runs.append((start, key, run_summary(trace, row)))
                found += 1
    runs.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [run for _start, _key, run in runs[:limit]]


def find_run(conn: sqlite3.Connection, run_id: str) -> tuple[TraceSteps, StepRow] | None:
    """The trace and span of an agent run, by the run span's id."""
    found = conn.execute(
        "SELECT trace_id FROM spans INDEXED BY agent_runs_by_id"
        " WHERE span_id = ? AND span_role = 'agent' ORDER BY rowid DESC LIMIT 1",
        (run_id.strip().lower(),),
    ).fetchone()
    if found is None:
        return None
    trace = TraceCache(conn).get(found[0])
    row = trace.by_id.get(run_id.strip().lower())
    return (trace, row) if row is not None else None


def get_run(conn: sqlite3.Connection, run_id: str) -> RunDetail | None:
    """One run as a tree: every step below it, per-tool figures and tool-to-tool transitions."""
    found = find_run(conn, run_id)
    if found is None:
        return None
    trace, root = found
    ordered = trace.subtree(root.span_id)
    executions = {
        row.tool_call_id: row.span_id
        for _depth, row in ordered
        if row.span_role == "tool" and row.tool_call_id is not None
    }
    messages = _call_messages(conn, [row.key for _depth, row in ordered if row.is_call])
    steps = []
    for depth, row in ordered:
        kids = [(child.start, child.end) for child in trace.children.get(row.span_id, [])]
        self_ns = max(0, row.end - row.start) - covered_ns(row.start, row.end, kids)
        input_text, output_text = messages.get(row.key, (None, None))
        cost = row.cost
        steps.append(
            RunStep(
                span_id=row.span_id,
                parent_span_id=row.parent_span_id,
                depth=depth,
                kind="agent" if depth == 0 else trace.step_kind(row),
                name=row.name,
                start_offset_ms=(row.start - root.start) / 1e6,
                duration_ms=row.duration_ms,
                self_time_ms=self_ns / 1e6,
                error=row.error,
                call_id=row.key if row.is_call else None,
                model=row.model if row.is_call else None,
                input_tokens=row.input_tokens if row.is_call else None,
                output_tokens=row.output_tokens if row.is_call else None,
                agent_name=row.agent_name,
                tool_name=row.tool_name,
                tool_call_id=row.tool_call_id,
                arguments=row.tool_arguments,
                result=row.tool_result,
                decision=row.tool_decision,
                tool_calls=_links(output_text, "tool_call", executions),
                tool_responses=_links(input_text, "tool_call_response", executions),
                cost_usd=cost.usd,
                cost_source=cost.source,
            )
        )
    # Retrievals count as tools here: a search repeated round after round is a loop too.
    tools = [row for _depth, row in ordered if row.span_role in ("tool", "retriever")]
    return RunDetail(
        run=run_summary(trace, root),
        steps=tuple(steps),
        tools=tool_stats(tools),
        transitions=tool_transitions(tools),
    )


def _call_messages(
    conn: sqlite3.Connection, call_ids: list[int]
) -> dict[int, tuple[str | None, str | None]]:
    if not call_ids:
        return {}
    marks = ", ".join("?" * len(call_ids))
    rows = conn.execute(
        f"SELECT rowid, {_INPUT}, {_OUTPUT} FROM spans WHERE rowid IN ({marks})",
        call_ids,
    )
    return {rowid: (inputs, outputs) for rowid, inputs, outputs in rows}


def _links(
    text: str | None, part_type: str, executions: dict[str, str]
) -> tuple[ToolCallLink, ...]:
    if not text:
        return ()
    links = []
    for message in parse_messages(text):
        for part in message.parts:
            if part.type == part_type:
                links.append(
                    ToolCallLink(
                        tool_call_id=part.id,
                        name=part.name,
                        text=part.arguments if part_type == "tool_call" else part.content,
                        step_span_id=executions.get(part.id) if part.id is not None else None,
                    )
                )
    return tuple(links)


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def tool_stats(tools: list[StepRow]) -> tuple[ToolStat, ...]:
    """Per tool name: executions, p50/p95 duration and failures; most used first."""
    durations: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    for row in tools:
        name = row.tool_name or row.name
        durations[name].append(row.duration_ms)
        if row.error is not None:
            errors[name] += 1
    stats = []
    for name, values in durations.items():
        values.sort()
        p50, p95 = _percentile(values, 0.5), _percentile(values, 0.95)
        stats.append(ToolStat(name, len(values), p50, p95, errors[name]))
    stats.sort(key=lambda stat: (-stat.count, stat.tool_name))
    return tuple(stats)


def tool_transitions(tools: list[StepRow]) -> tuple[ToolTransition, ...]:
    """Pairs of consecutive tool executions (by start time) and their counts; loops first."""
    ordered = sorted(tools, key=lambda row: (row.start, row.key))
    names = [row.tool_name or row.name for row in ordered]
    pairs = Counter(pairwise(names))
    transitions = [ToolTransition(a, b, count) for (a, b), count in pairs.items()]
    transitions.sort(key=lambda t: (not t.is_loop, -t.count, t.from_tool, t.to_tool))
    return tuple(transitions)
