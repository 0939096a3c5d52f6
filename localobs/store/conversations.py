"""Conversations: the spans an application tagged with one conversation (or session) id.

A conversation's turns are its tagged spans that no tagged span of the same conversation contains
(one agent run or one model call per user message, usually), in start order. A turn's model calls
are the calls at or below it in its trace, tagged or not, so the figures agree with the run's.
Nothing here invents an id: spans without one belong to no conversation.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from localobs.store.agent_tree import StepRow, TraceCache, TraceSteps, load_traces
from localobs.store.contents import expand_sql
from localobs.store.cost import sum_costs, sum_known
from localobs.store.messages import Message, parse_messages
from localobs.store.messages import preview as message_preview

_TAGGED = (
    "SELECT trace_id, span_id FROM spans INDEXED BY conversation_spans"
    " WHERE conversation_id = ? ORDER BY start_time_unix_nano"
)
# The list in one statement (one snapshot, one hand-over of the GIL): the conversations tagged in
# traces whose summaries the writer has not refreshed yet (store/summaries.py), with those traces,
# and the ready summaries of the others, most recently active first.
_LISTED = (
    "WITH pending AS (SELECT DISTINCT s.conversation_id, s.trace_id FROM summary_dirty AS d"
    " CROSS JOIN spans AS s INDEXED BY spans_by_id ON s.trace_id = d.trace_id"
    " WHERE s.conversation_id IS NOT NULL)"
    " SELECT (SELECT json_group_array(json_array(conversation_id, trace_id)) FROM pending),"
    " (SELECT '[' || coalesce(group_concat(item, ','), '') || ']' FROM ("
    "SELECT '[' || last_active_unix_nano || ',' || summary || ']' AS item"
    " FROM conversation_summaries INDEXED BY conversation_summaries_by_activity"
    " WHERE last_active_unix_nano >= ?1"
    " AND conversation_id NOT IN (SELECT conversation_id FROM pending)"
    " ORDER BY last_active_unix_nano DESC, conversation_id DESC LIMIT ?2))"
)
# A pending conversation's latest tagged span, and the ready turns of its other traces.
_ACTIVITY = (
    "SELECT value, (SELECT max(start_time_unix_nano) FROM spans INDEXED BY conversation_spans"
    " WHERE conversation_id = value) FROM json_each(?)"
)
_READY_TURNS = (
    "SELECT conversation_id, facts FROM conversation_turns"
    " WHERE conversation_id IN (SELECT value FROM json_each(?1))"
    " AND trace_id NOT IN (SELECT value FROM json_each(?2))"
)

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


class TurnFacts(NamedTuple):
    """What a conversation's summary needs of one turn. The writer keeps them per turn
    (`conversation_turns`), so the list folds these instead of reading traces."""

    key: int  # the turn's root span (rowid)
    start: int
    end: int
    last_active: int  # the latest start of a span of its conversation at or below the root
    calls: int
    input_tokens: int | None  # None: none of its calls reported usage
    output_tokens: int | None
    errors: int  # its root's error and its calls'
    costs: tuple[float, ...]  # its calls' known costs, in call order
    unpriced: int

    def to_json(self) -> str:
        return json.dumps(self._asdict())

    @classmethod
    def from_json(cls, text: str) -> TurnFacts:
        fields = json.loads(text)
        return cls(**{**fields, "costs": tuple(fields["costs"])})


def summary_json(summary: ConversationSummary) -> str:
    """A summary as the writer stores it (stdlib JSON: exact floats, integers of any size)."""
    return json.dumps({name: getattr(summary, name) for name in ConversationSummary.__slots__})


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
    return _roots(cache.get, conversation_id, tagged)


def _roots(
    traces: Callable[[str], TraceSteps], conversation_id: str, tagged: list[tuple[str, str]]
) -> list[tuple[TraceSteps, StepRow]]:
    """The conversation's turns: its tagged spans (trace and span ids, their traces given by
    `traces`) that no tagged span of the same conversation contains, in order."""
    roots = []
    for trace_id, span_id in tagged:
        trace = traces(trace_id)
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


def turn_facts(trace: TraceSteps, root: StepRow) -> TurnFacts:
    calls = _turn_calls(trace, root)
    costs = [call.cost for call in calls]
    conversation_id = root.conversation_id
    return TurnFacts(
        key=root.key,
        start=root.start,
        end=root.end,
        last_active=max(
            row.start
            for _depth, row in trace.subtree(root.span_id)
            if row.conversation_id == conversation_id
        ),
        calls=len(calls),
        input_tokens=_sum([call.input_tokens for call in calls]),
        output_tokens=_sum([call.output_tokens for call in calls]),
        errors=(root.error is not None) + sum(1 for call in calls if call.error is not None),
        costs=tuple(cost.usd for cost in costs if cost.usd is not None),
        unpriced=sum(1 for cost in costs if cost.usd is None),
    )


def trace_turns(trace: TraceSteps) -> list[tuple[str, TurnFacts]]:
    """The turns one trace holds, of every conversation tagged in it: what the writer keeps.
    A turn's root is in its own trace, so each trace's turns are found apart from the others."""
    tagged: dict[str, list[tuple[str, str]]] = {}
    for row in trace.by_id.values():
        if row.conversation_id is not None:
            tagged.setdefault(row.conversation_id, []).append((trace.trace_id, row.span_id))
    return [
        (conversation_id, turn_facts(trace, root))
        for conversation_id, spans in tagged.items()
        for _trace, root in _roots(lambda _trace_id: trace, conversation_id, spans)
    ]


def fold_turns(conversation_id: str, turns: Sequence[TurnFacts]) -> ConversationSummary:
    """A conversation's summary from its turns in order (the list's and the detail's alike)."""
    cost = sum_known([usd for turn in turns for usd in turn.costs], sum(t.unpriced for t in turns))
    return ConversationSummary(
        conversation_id=conversation_id,
        turns=len(turns),
        model_calls=sum(turn.calls for turn in turns),
        input_tokens=_sum([turn.input_tokens for turn in turns]),
        output_tokens=_sum([turn.output_tokens for turn in turns]),
        first_seen=min(turn.start for turn in turns),
        last_seen=max(turn.end for turn in turns),
        errors=sum(turn.errors for turn in turns),
        cost_usd=cost.usd,
        unpriced_calls=cost.unpriced,
    )


def list_conversations(
    conn: sqlite3.Connection, *, limit: int = 100, since_unix_nano: int = 0
) -> list[ConversationSummary]:
    """Conversations active (a span of theirs started) at or after `since_unix_nano`, most
    recently active first: the summaries the writer keeps, and those of conversations it has not
    refreshed yet folded here from its kept turns and their changed traces."""
    pending_json, ready_json = conn.execute(_LISTED, (since_unix_nano, limit)).fetchone()
    listed = [
        (active, fields["conversation_id"], ConversationSummary(**fields))
        for active, fields in json.loads(ready_json)
    ]
    pending: dict[str, set[str]] = {}
    for conversation_id, trace_id in json.loads(pending_json):
        pending.setdefault(conversation_id, set()).add(trace_id)
    if pending:
        listed += _pending(conn, pending, listed, limit, since_unix_nano)
    listed.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [summary for _active, _id, summary in listed[:limit]]


def _pending(
    conn: sqlite3.Connection,
    pending: dict[str, set[str]],
    listed: list[tuple[int, str, ConversationSummary]],
    limit: int,
    since_unix_nano: int,
) -> list[tuple[int, str, ConversationSummary]]:
    """The summaries of conversations whose traces changed since the writer's last refresh,
    those among the `limit` most recently active only: their kept turns from unchanged traces
    and the turns of the changed traces, read now."""
    activity = [
        (active, conversation_id)
        for conversation_id, active in conn.execute(_ACTIVITY, (json.dumps(list(pending)),))
        if active is not None and active >= since_unix_nano
    ]
    ranked = sorted([*activity, *((item[0], item[1]) for item in listed)], reverse=True)[:limit]
    shown = {conversation_id for _active, conversation_id in ranked if conversation_id in pending}
    if not shown:
        return []
    changed = sorted({trace_id for c in shown for trace_id in pending[c]})
    turns: dict[str, list[TurnFacts]] = {conversation_id: [] for conversation_id in shown}
    for conversation_id, facts in conn.execute(
        _READY_TURNS, (json.dumps(sorted(shown)), json.dumps(changed))
    ):
        turns[conversation_id].append(TurnFacts.from_json(facts))
    for trace in load_traces(conn, changed).values():
        for conversation_id, facts in trace_turns(trace):
            if conversation_id in turns:
                turns[conversation_id].append(facts)
    found = []
    for conversation_id, facts in turns.items():
        if facts:
            facts.sort(key=lambda turn: (turn.start, turn.key))
            summary = fold_turns(conversation_id, facts)
            found.append((max(t.last_active for t in facts), conversation_id, summary))
    return found


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
    facts = [turn_facts(trace, root) for trace, root in roots]
    return Conversation(fold_turns(conversation_id, facts), tuple(turns))


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
