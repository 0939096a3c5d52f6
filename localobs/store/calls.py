"""Model calls: the list (newest first, filtered, keyset-paged), live increments, one call in full.

A call is a span row with `operation` set; its `call_id` is the span's rowid.
"""

from __future__ import annotations

import sqlite3
from dataclasses import KW_ONLY, dataclass
from typing import Any

import orjson

from localobs.store.call_columns import DURATION_MS_SQL, TOKENS_PER_S_SQL
from localobs.store.call_filter import ALL_CALLS, CallFilter, row_conditions
from localobs.store.call_speed import REPORTED_SPLIT_SQL, call_speed, is_decode_speed
from localobs.store.contents import attributes_sql, expand_sql, shown_attributes
from localobs.store.cost import COST_EXTRAS_SQL, row_cost
from localobs.store.evaluations import Evaluation, call_evaluations
from localobs.store.messages import (
    Message,
    Part,
    parse_messages,
    parse_parts,
    preview,
    tool_calls_preview,
)

__all__ = [
    "CallDetail",
    "CallFilter",
    "CallSummary",
    "Message",
    "Part",
    "calls_after",
    "get_call",
    "list_calls",
]

# Numeric attributes shown as timings besides duration and TTFT (llama.cpp's perf counters and
# the like): keys ending so, and the unit that ending means (longer endings first).
TIMING_UNITS = (
    ("_tokens_per_s", "tok/s"),
    ("_tokens_per_second", "tok/s"),
    ("_per_s", "/s"),
    ("_per_second", "/s"),
    ("_ms", "ms"),
    (".time_per_output_token", "s/tok"),
)


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: int
    trace_id: str
    span_id: str
    service_name: str | None
    operation: str
    provider: str | None
    request_model: str | None
    response_model: str | None
    start_time_unix_nano: int
    duration_ms: float
    ttft_ms: float | None
    ttft_source: str | None
    """Where ttft_ms came from: the attribute or event the receiver read it from (see
    receiver/genai/ttft.py), else a call_speed.TTFT_* constant."""
    output_tokens_per_s: float | None
    output_tokens_per_s_source: str | None
    """A call_speed.SPEED_* constant: SPEED_END_TO_END is throughput, not decode speed."""
    input_tokens: int | None
    output_tokens: int | None
    status_code: int
    error_type: str | None
    preview: str
    agent_name: str | None  # the agent the call names itself (gen_ai.agent.name)
    tool_calls: str  # the tools it asked for, `name(arguments)`; '' when none
    cost_usd: float | None  # None: unknown (see store/cost.py)
    cost_source: str | None  # a store/cost.py source: reported, price_table, local
    # Where a count was not reported (input_tokens / output_tokens None), an estimate made from
    # the stored text (store/token_estimate.py), kept apart: a script wanting a number either way
    # takes `input_tokens ?? input_tokens_estimate` and knows which it got. Never set where a
    # count was reported.
    input_tokens_estimate: int | None
    output_tokens_estimate: int | None
    token_estimate_method: str | None  # how the estimates were made; None without any

    # Usage details (None: not reported). Per the GenAI conventions the cache counts are part of
    # input_tokens and the reasoning count part of output_tokens, not added to them.
    _: KW_ONLY
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    reasoning_level: str | None = None  # the reasoning effort the request asked for

    @property
    def input_tokens_estimated(self) -> bool:
        return self.input_tokens_estimate is not None

    @property
    def output_tokens_estimated(self) -> bool:
        return self.output_tokens_estimate is not None

    @property
    def model(self) -> str | None:
        return self.response_model or self.request_model

    @property
    def is_error(self) -> bool:
        return self.status_code == 2 or self.error_type is not None

    @property
    def is_decode_speed(self) -> bool:
        return is_decode_speed(self.output_tokens_per_s_source)


@dataclass(frozen=True, slots=True)
class CallDetail(CallSummary):
    """One call in full: its summary, the request and its messages, and the raw span."""

    name: str
    span_kind: int
    parent_span_id: str | None
    status_message: str | None
    span_role: str | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    finish_reasons: list[str]
    input_messages: list[Message]
    output_messages: list[Message]
    system_instructions: list[Part]
    dialect: str | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    resource_attributes: dict[str, Any]
    extra_timings: dict[str, float]
    evaluations: tuple[Evaluation, ...] = ()  # gen_ai.evaluation.result events about this call

    @property
    def model(self) -> str | None:
        return self.response_model or self.request_model

    @property
    def is_error(self) -> bool:
        return self.status_code == 2 or self.error_type is not None


# Columns CallSummary is made of: input messages give the preview, output messages the tool
# calls, the reported split the speed, the cost extras the cost.
_SUMMARY_SQL = f"""
    rowid, trace_id, span_id, service_name, operation, provider, request_model, response_model,
    start_time_unix_nano, {DURATION_MS_SQL}, ttft_ms, {TOKENS_PER_S_SQL},
    input_tokens, output_tokens, coalesce(status_code, 0), error_type,
    {expand_sql("input_messages")}, {expand_sql("output_messages")}, agent_name,
    {REPORTED_SPLIT_SQL}, {COST_EXTRAS_SQL}, ttft_source,
    cache_read_tokens, cache_write_tokens, reasoning_tokens, reasoning_level,
    CASE WHEN input_tokens IS NULL THEN input_tokens_estimate END,
    CASE WHEN output_tokens IS NULL THEN output_tokens_estimate END, token_estimate_method"""
_SUMMARY_COLUMNS = 31


def _summary(row: tuple[Any, ...]) -> CallSummary:
    (
        call_id, trace_id, span_id, service, operation, provider, request_model, response_model,
        start, duration_ms, ttft_ms, tokens_per_s, input_tokens, output_tokens, status,
        error_type, input_messages, output_messages, agent_name,
        generation_rate, prompt_tokens, prompt_rate, cost_extras, ttft_source,
        cache_read_tokens, cache_write_tokens, reasoning_tokens, reasoning_level,
        input_estimate, output_estimate, estimate_method,
    ) = row  # fmt: skip
    speed = call_speed(
        ttft_ms, ttft_source, tokens_per_s, generation_rate, prompt_tokens, prompt_rate
    )
    cost = row_cost(
        provider, response_model or request_model, input_tokens, output_tokens, cost_extras
    )
    return CallSummary(
        call_id=call_id,
        trace_id=trace_id,
        span_id=span_id,
        service_name=service,
        operation=operation,
        provider=provider,
        request_model=request_model,
        response_model=response_model,
        start_time_unix_nano=start,
        duration_ms=duration_ms,
        ttft_ms=speed.ttft_ms,
        ttft_source=speed.ttft_source,
        output_tokens_per_s=speed.tokens_per_s,
        output_tokens_per_s_source=speed.tokens_per_s_source,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        status_code=status,
        error_type=error_type,
        preview=preview(input_messages),
        agent_name=agent_name,
        tool_calls=tool_calls_preview(output_messages),
        cost_usd=cost.usd,
        cost_source=cost.source,
        input_tokens_estimate=input_estimate,
        output_tokens_estimate=output_estimate,
        token_estimate_method=(
            estimate_method if input_estimate is not None or output_estimate is not None else None
        ),
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens,
        reasoning_level=reasoning_level,
    )


def list_calls(
    conn: sqlite3.Connection,
    flt: CallFilter = ALL_CALLS,
    *,
    limit: int = 100,
    before: tuple[int, int] | None = None,
) -> list[CallSummary]:
    """Newest first by (start time, call_id). For the next page pass `before` = (start time,
    call_id) of the last call of this one: pages never overlap or skip, even while calls arrive."""
    where, params = row_conditions(conn, flt)
    if before is not None:
        where += " AND start_time_unix_nano <= ? AND (start_time_unix_nano < ? OR rowid < ?)"
        params += [before[0], before[0], before[1]]
    rows = conn.execute(
        f"SELECT {_SUMMARY_SQL} FROM spans WHERE rowid IN ("
        f" SELECT rowid FROM spans INDEXED BY llm_calls_list WHERE {where}"
        " ORDER BY start_time_unix_nano DESC, rowid DESC LIMIT ?)"
        " ORDER BY start_time_unix_nano DESC, rowid DESC",
        (*params, limit),
    )
    return [_summary(row) for row in rows]


def calls_after(
    conn: sqlite3.Connection,
    after_call_id: int,
    flt: CallFilter = ALL_CALLS,
    *,
    limit: int = 500,
) -> list[CallSummary]:
    """Calls stored after `after_call_id`, oldest first (call ids grow with arrival): continue
    from the last one returned while a full `limit` comes back."""
    where, params = row_conditions(conn, flt)
    rows = conn.execute(
        f"SELECT {_SUMMARY_SQL} FROM spans NOT INDEXED WHERE rowid > ? AND {where}"
        " ORDER BY rowid LIMIT ?",
        (after_call_id, *params, limit),
    )
    return [_summary(row) for row in rows]


def _json(text: str | None, empty: Any) -> Any:
    if not text:
        return empty
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return empty


def _extra_timings(attributes: dict[str, Any]) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in attributes.items()
        if key.endswith(tuple(suffix for suffix, _ in TIMING_UNITS))
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


def get_call(conn: sqlite3.Connection, call_id: int) -> CallDetail | None:
    """One call with its messages, attributes, events and resource; None if no such call."""
    row = conn.execute(
        f"SELECT {_SUMMARY_SQL}, name, kind, parent_span_id, status_message, span_role,"
        " temperature, top_p, max_tokens, finish_reasons,"
        f" {expand_sql('system_instructions')}, dialect, {attributes_sql()}, events, resource_id"
        " FROM spans"
        " WHERE rowid = ? AND operation IS NOT NULL",
        (call_id,),
    ).fetchone()
    if row is None:
        return None
    summary = _summary(row[:_SUMMARY_COLUMNS])
    input_messages, output_messages = row[16], row[17]  # the summary's message columns
    (
        name, kind, parent, status_message, role, temperature, top_p, max_tokens, finish_reasons,
        system_instructions, dialect, attributes, events, resource_id,
    ) = row[_SUMMARY_COLUMNS:]  # fmt: skip
    resource = conn.execute(
        "SELECT attributes FROM resources WHERE resource_id = ?", (resource_id,)
    ).fetchone()
    attrs = shown_attributes(attributes)
    reasons = _json(finish_reasons, [])
    summary_fields = {name: getattr(summary, name) for name in CallSummary.__dataclass_fields__}
    return CallDetail(
        **summary_fields,
        name=name,
        span_kind=kind or 0,
        parent_span_id=parent,
        status_message=status_message,
        span_role=role,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        finish_reasons=[str(reason) for reason in reasons] if isinstance(reasons, list) else [],
        input_messages=parse_messages(input_messages),
        output_messages=parse_messages(output_messages),
        system_instructions=parse_parts(system_instructions),
        dialect=dialect,
        attributes=attrs,
        events=_json(events, []),
        resource_attributes=_json(resource[0], {}) if resource else {},
        extra_timings=_extra_timings(attrs),
        evaluations=call_evaluations(conn, summary.trace_id, summary.span_id),
    )
