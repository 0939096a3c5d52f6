"""Conversations: the spans an application tagged with one conversation (or session) id.

A conversation's turns are its tagged spans that no tagged span of the same conversation contains
(one agent run or one model call per user message, usually), in start order. A turn's model calls
are the calls at or below it in its trace, tagged or not, so the figures agree with the run's.
Nothing here invents an id: spans without one belong to no conversation.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from localobs.store.agent_tree import RecentTraces, StepRow, TraceCache, TraceSteps
from localobs.store.contents import expand_sql
from localobs.store.cost import sum_costs
from localobs.store.messages import Message, parse_messages
from localobs.store.messages import preview as message_preview

_RECENT = (
    "SELECT conversation_id FROM spans INDEXED BY conversations_by_start"
    " WHERE conversation_id IS NOT NULL AND start_time_unix_nano >= ?"
    " ORDER BY start_time_unix_nano DESC"
)
_TAGGED = (
    "SELECT trace_id, span_id FROM spans INDEXED BY conversation_spans"
    " WHERE conversation_id = ? ORDER BY start_time_unix_nano"
)
# The tagged spans that may be turns: one whose parent carries the same conversation id is inside
# that parent's turn, and is left out here, in SQLite (most tagged spans, where a framework tags
# every span of a run), instead of in Python.
_TAGGED_MANY = (
    "SELECT conversation_id, trace_id, span_id FROM spans AS s INDEXED BY conversation_spans"
    " WHERE conversation_id IN ({marks}) AND NOT EXISTS (SELECT 1 FROM spans AS parent"
    " INDEXED BY spans_by_id WHERE parent.trace_id = s.trace_id"
    " AND parent.span_id = s.parent_span_id AND parent.conversation_id = s.conversation_id)"
)
_CHUNK = 500  # conversation ids per query

# Message columns may hold references to `contents`: read their text back.
_INPUT, _OUTPUT = expand_sql("input_messages"), expand_sql("output_messages")


@dataclass(frozen=True, slots=True)
class TurnCall:
    """One model call of a turn; `input_tokens` is the context it was sent."""

    call_id: int
    trace_id: str
    span_id: str
    name: str
    model: str | None
    start_time_unix_nano: int
    duration_ms: float
    input_tokens: int | None
    output_tokens: int | None
    error: str | None
    cost_usd: float | None = None  # store/cost.py; None: unknown
    cost_source: str | None = None
    compacted: bool = False  # it was sent a compacted view of the history (see `_compacted`)


@dataclass(frozen=True, slots=True)
class Turn:
    number: int  # 1-based, in start order
    trace_id: str
    span_id: str
    kind: str  # agent, model call, workflow step, ...
    name: str
    run_id: str | None  # the turn's agent run, when it is one
    start_time_unix_nano: int
    duration_ms: float
    input_tokens: int | None
    output_tokens: int | None
    error: str | None
    question: str  # the start of the user's message (see `_previews`)
    calls: tuple[TurnCall, ...]
    cost_usd: float | None = None  # known costs of its calls summed; None: none known
    unpriced_calls: int = 0
    compacted: bool = False  # the turn (or one of its calls) ran on a compacted history


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation_id: str
    turns: int
    model_calls: int
    input_tokens: int | None
    output_tokens: int | None
    first_seen: int  # unix nano: the first turn's start
    last_seen: int  # the last turn's end
    errors: int
    # Known costs of its model calls summed (None: none known), and how many calls had none: an
    # unknown price neither hides the known part nor passes for $0.
    cost_usd: float | None = None
    unpriced_calls: int = 0


@dataclass(frozen=True, slots=True)
class Conversation:
    summary: ConversationSummary
    turns: tuple[Turn, ...]


@dataclass(frozen=True, slots=True)
class CallScope:
    """Where a model call belongs: its agent run and its conversation (None: none)."""

    run_id: str | None
    agent_name: str | None
    conversation_id: str | None


@dataclass(frozen=True, slots=True)
class ContextChange:
    """What a call was sent beyond what the previous call of its run or conversation saw (its
    input and its answer): messages added and removed, not the whole prompt again."""

    call_id: int
    previous_call_id: int | None
    scope: str  # "run", "conversation" or "" (no previous call)
    added: tuple[Message, ...]
    removed: tuple[Message, ...]
    kept: int  # messages carried over unchanged
    # The call says its history was compacted (summarised, trimmed): `removed` is then the part of
    # the history the compaction replaced, not messages lost by accident.
    compacted: bool = False


def _sum(values: list[int | None]) -> int | None:
    reported = [value for value in values if value is not None]
    return sum(reported) if reported else None


def _turn_roots(
    conn: sqlite3.Connection, cache: TraceCache, conversation_id: str
) -> list[tuple[TraceSteps, StepRow]]:
    tagged = conn.execute(_TAGGED, (conversation_id,)).fetchall()
    cache.preload([trace_id for trace_id, _span_id in tagged])
    return _roots(cache, conversation_id, tagged)


def _roots(
    cache: TraceCache, conversation_id: str, tagged: list[tuple[str, str]]
) -> list[tuple[TraceSteps, StepRow]]:
    """The conversation's turns: its tagged spans (trace and span ids, their traces in `cache`)
    that no tagged span of the same conversation contains, in order."""
    roots = []
    for trace_id, span_id in tagged:
        trace = cache.get(trace_id)
        row = trace.by_id.get(span_id)
        if row is None:
            continue
        parent = trace.by_id.get(row.parent_span_id) if row.parent_span_id else None
        if parent is not None and parent.conversation_id == conversation_id:
            continue  # the common case, a call under its tagged run: no walk up the tree
        if any(parent.conversation_id == conversation_id for parent in trace.ancestors(span_id)):
            continue
        roots.append((trace, row))
    roots.sort(key=lambda pair: (pair[1].start, pair[1].key))
    return roots


def _turn_calls(trace: TraceSteps, root: StepRow) -> tuple[StepRow, ...]:
    return trace.calls_under(root.span_id)


def _summary(conversation_id: str, roots: list[tuple[TraceSteps, StepRow]]) -> ConversationSummary:
    calls = [call for trace, root in roots for call in _turn_calls(trace, root)]
    cost = sum_costs([call.cost for call in calls])
    return ConversationSummary(
        conversation_id=conversation_id,
        turns=len(roots),
        model_calls=len(calls),
        input_tokens=_sum([call.input_tokens for call in calls]),
        output_tokens=_sum([call.output_tokens for call in calls]),
        first_seen=min(root.start for _trace, root in roots),
        last_seen=max(root.end for _trace, root in roots),
        errors=sum(1 for _trace, root in roots if root.error is not None)
        + sum(1 for call in calls if call.error is not None),
        cost_usd=cost.usd,
        unpriced_calls=cost.unpriced,
    )


def list_conversations(
    conn: sqlite3.Connection,
    *,
    limit: int = 100,
    since_unix_nano: int = 0,
    recent: RecentTraces | None = None,
) -> list[ConversationSummary]:
    """Conversations active at or after `since_unix_nano`, most recently active first; `recent`
    keeps their traces for the next read (a list read again and again under a load)."""
    seen: list[str] = []
    known: set[str] = set()
    for (conversation_id,) in conn.execute(_RECENT, (since_unix_nano,)):
        if conversation_id not in known:
            known.add(conversation_id)
            seen.append(conversation_id)
            if len(seen) >= limit:
                break
    # Their spans and traces read together: a query per conversation cost the viewer a GIL
    # hand-over each, slow behind an ingest flood.
    tagged: dict[str, list[tuple[str, str]]] = {conversation_id: [] for conversation_id in seen}
    for start in range(0, len(seen), _CHUNK):
        chunk = seen[start : start + _CHUNK]
        sql = _TAGGED_MANY.format(marks=", ".join("?" * len(chunk)))
        for conversation_id, trace_id, span_id in conn.execute(sql, chunk):
            tagged[conversation_id].append((trace_id, span_id))
    cache = TraceCache(conn, recent)
    cache.preload([trace_id for rows in tagged.values() for trace_id, _span_id in rows])
    summaries = []
    for conversation_id in seen:
        roots = _roots(cache, conversation_id, tagged[conversation_id])
        if roots:
            summaries.append(_summary(conversation_id, roots))
    return summaries


def get_conversation(conn: sqlite3.Connection, conversation_id: str) -> Conversation | None:
    """One conversation's turns in order, each with its model calls and their context sizes."""
    cache = TraceCache(conn)
    roots = _turn_roots(conn, cache, conversation_id)
    if not roots:
        return None
    call_rows = [_turn_calls(trace, root) for trace, root in roots]
    keys = [
        row.key for (_, root), calls in zip(roots, call_rows, strict=True) for row in (root, *calls)
    ]
    previews = _previews(conn, keys)
    compacted = _compacted(conn, keys)
    turns = []
    for number, ((trace, root), calls) in enumerate(zip(roots, call_rows, strict=True), 1):
        cost = sum_costs([call.cost for call in calls])
        turns.append(
            Turn(
                number=number,
                trace_id=trace.trace_id,
                span_id=root.span_id,
                kind="agent" if root.span_role == "agent" else trace.step_kind(root),
                name=root.agent_name or root.name,
                run_id=root.span_id if root.span_role == "agent" else None,
                start_time_unix_nano=root.start,
                duration_ms=root.duration_ms,
                input_tokens=_sum([call.input_tokens for call in calls]),
                output_tokens=_sum([call.output_tokens for call in calls]),
                error=root.error,
                question=next(
                    (previews[row.key] for row in (root, *calls) if previews.get(row.key)), ""
                ),
                calls=tuple(_turn_call(trace, call, call.key in compacted) for call in calls),
                cost_usd=cost.usd,
                unpriced_calls=cost.unpriced,
                compacted=any(row.key in compacted for row in (root, *calls)),
            )
        )
    return Conversation(_summary(conversation_id, roots), tuple(turns))


def _turn_call(trace: TraceSteps, row: StepRow, compacted: bool) -> TurnCall:
    cost = row.cost
    return TurnCall(
        call_id=row.key,
        trace_id=trace.trace_id,
        span_id=row.span_id,
        name=row.name,
        model=row.model,
        start_time_unix_nano=row.start,
        duration_ms=row.duration_ms,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        error=row.error,
        cost_usd=cost.usd,
        cost_source=cost.source,
        compacted=compacted,
    )


# A span that says its context is a compacted view of the conversation: the conventions'
# `gen_ai.conversation.compacted` attribute (set only when true), or a `compaction` part in its
# input (the conventions' CompactionPart: a summary standing in for the earlier history).
_COMPACTED_SQL = (
    "CASE WHEN json_valid(attributes)"
    " THEN json_extract(attributes, '$.\"gen_ai.conversation.compacted\"') IN (1, 'true') END"
    f" OR CASE WHEN instr({_INPUT}, '\"compaction\"') AND json_valid({_INPUT}) THEN EXISTS ("
    f"SELECT 1 FROM json_each({_INPUT}) AS message, json_each(message.value, '$.parts') AS part"
    " WHERE json_extract(part.value, '$.type') = 'compaction') END"
)


def _compacted(conn: sqlite3.Connection, rowids: list[int]) -> set[int]:
    """Which of these spans ran on a compacted history."""
    found: set[int] = set()
    for start in range(0, len(rowids), 500):
        chunk = rowids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT rowid FROM spans WHERE rowid IN ({marks}) AND ({_COMPACTED_SQL})", chunk
        )
        found.update(rowid for (rowid,) in rows)
    return found


def _previews(conn: sqlite3.Connection, rowids: list[int]) -> dict[int, str]:
    """The start of each span's last user message: a turn's question is its root's (an agent
    run may record its input), else its first call's that has one (an embedding may not)."""
    found: dict[int, str] = {}
    for start in range(0, len(rowids), 500):
        chunk = rowids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(f"SELECT rowid, {_INPUT} FROM spans WHERE rowid IN ({marks})", chunk)
        found.update((rowid, message_preview(text)) for rowid, text in rows)
    return found


def call_scope(conn: sqlite3.Connection, call_id: int) -> CallScope | None:
    """A model call's outermost agent run, and the conversation its nearest tagged span (itself
    or an ancestor) names; None: no such call."""
    found = conn.execute(
        "SELECT trace_id, span_id FROM spans WHERE rowid = ? AND operation IS NOT NULL",
        (call_id,),
    ).fetchone()
    if found is None:
        return None
    trace = TraceCache(conn).get(found[0])
    row = trace.by_id.get(found[1])
    if row is None:
        return None
    ancestors = list(trace.ancestors(row.span_id))
    runs = [parent for parent in ancestors if parent.span_role == "agent"]
    run = runs[-1] if runs else None
    conversation = row.conversation_id
    for parent in ancestors:
        if conversation is not None:
            break
        conversation = parent.conversation_id
    return CallScope(
        run_id=run.span_id if run else None,
        agent_name=(run.agent_name or run.name) if run else None,
        conversation_id=conversation,
    )


def _previous_call(conn: sqlite3.Connection, call_id: int) -> tuple[int | None, str]:
    """The call before this one in its run, else in its conversation."""
    scope = call_scope(conn, call_id)
    if scope is None:
        return None, ""
    run_id, conversation_id = scope.run_id, scope.conversation_id
    cache = TraceCache(conn)
    if run_id is not None:
        found = conn.execute("SELECT trace_id FROM spans WHERE rowid = ?", (call_id,)).fetchone()
        trace = cache.get(found[0])
        calls = _turn_calls(trace, trace.by_id[run_id])
        before = _before(calls, call_id)
        if before is not None:
            return before, "run"
    if conversation_id is not None:
        in_conversation = [
            call
            for trace, root in _turn_roots(conn, cache, conversation_id)
            for call in _turn_calls(trace, root)
        ]
        before = _before(in_conversation, call_id)
        if before is not None:
            return before, "conversation"
    return None, ""


def _before(calls: Sequence[StepRow], call_id: int) -> int | None:
    keys = [call.key for call in calls]
    if call_id in keys:
        index = keys.index(call_id)
        return keys[index - 1] if index > 0 else None
    return None


def context_change(conn: sqlite3.Connection, call_id: int) -> ContextChange | None:
    """The messages this call was sent that the previous call had not seen, and those dropped."""
    row = conn.execute(
        f"SELECT {_INPUT} FROM spans WHERE rowid = ? AND operation IS NOT NULL", (call_id,)
    ).fetchone()
    if row is None:
        return None
    current = _keyed(row[0])
    compacted = bool(_compacted(conn, [call_id]))
    previous_id, scope = _previous_call(conn, call_id)
    if previous_id is None:
        everything = tuple(m for _key, m in current)
        return ContextChange(call_id, None, "", everything, (), 0, compacted)
    before_row = conn.execute(
        f"SELECT {_INPUT}, {_OUTPUT} FROM spans WHERE rowid = ?", (previous_id,)
    ).fetchone()
    before = _keyed(before_row[0]) + _keyed(before_row[1])
    matcher = difflib.SequenceMatcher(
        a=[key for key, _m in before], b=[key for key, _m in current], autojunk=False
    )
    added: list[Message] = []
    removed: list[Message] = []
    kept = 0
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            kept += a1 - a0
            continue
        removed.extend(message for _key, message in before[a0:a1])
        added.extend(message for _key, message in current[b0:b1])
    return ContextChange(call_id, previous_id, scope, tuple(added), tuple(removed), kept, compacted)


def _keyed(text: str | None) -> list[tuple[str, Message]]:
    """Each stored message with a key that ignores what differs between an answer and its echo
    in the next request (the finish reason)."""
    return [(repr((message.role, message.parts)), message) for message in parse_messages(text)]
