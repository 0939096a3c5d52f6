"""Span rows for the query-layer tests, committed through the store's real write path.

Rows are full SPAN_COLUMNS tuples handed to `Store.submit` (the writer process commits them as it
commits received data), so a test can fix every timestamp; tests of what the SDK and the
normalization produce send spans through the receiver instead.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import orjson

from localobs.store import Batch, Store
from localobs.store.database import connect
from localobs.store.rollups import roll_up_all
from localobs.store.schema import SPAN_COLUMNS

T0 = 1_780_000_000 * 10**9
MS = 1_000_000
_digests = itertools.count()


def trace_id(number: int) -> str:
    return f"{number:032x}"


def span_id(number: int) -> str:
    return f"{number:016x}"


def messages(role: str, text: str, finish_reason: str | None = None) -> str:
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return orjson.dumps([message]).decode()


def span(
    trace: int,
    number: int,
    name: str,
    start_ms: float,
    duration_ms: float,
    *,
    parent: int | None = None,
    service: str = "svc",
    status: int = 0,
    attributes: dict[str, Any] | None = None,
    **genai: Any,
) -> tuple[Any, ...]:
    """One span row; `genai` sets GenAI columns by name (operation=... makes it a call)."""
    start = T0 + round(start_ms * MS)
    values = {
        "trace_id": trace_id(trace),
        "span_id": span_id(number),
        "parent_span_id": span_id(parent) if parent is not None else None,
        "flags": 1,
        "name": name,
        "kind": 1,
        "service_name": service,
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + round(duration_ms * MS),
        "status_code": status,
        "attributes": orjson.dumps(attributes or {}).decode(),
        "dropped_attributes_count": 0,
        "dropped_events_count": 0,
        "dropped_links_count": 0,
        **genai,
    }
    unknown = set(values) - set(SPAN_COLUMNS)
    assert not unknown, f"not span columns: {unknown}"
    return tuple(values.get(column) for column in SPAN_COLUMNS)


def call(
    trace: int,
    number: int,
    start_ms: float,
    duration_ms: float,
    *,
    model: str = "model-a",
    prompt: str = "hello",
    answer: str = "hi",
    **values: Any,
) -> tuple[Any, ...]:
    """A chat call span with content; keyword arguments override any column."""
    genai: dict[str, Any] = {
        "operation": "chat",
        "provider": "openai",
        "request_model": model,
        "response_model": model,
        "input_tokens": 10,
        "output_tokens": 5,
        "input_messages": messages("user", prompt),
        "output_messages": messages("assistant", answer, "stop"),
        "dialect": "semconv",
    }
    genai.update(values)
    return span(trace, number, f"chat {model}", start_ms, duration_ms, **genai)


def submit(store: Store, rows: list[tuple[Any, ...]]) -> None:
    """Commit `rows` as one batch; returns once the writer has committed it."""
    batch = Batch("traces", f"test-{next(_digests)}-{hashlib.md5(repr(rows).encode()).hexdigest()}")
    batch.rows = rows
    store.submit(batch).result(timeout=30)


def fold(store: Store) -> int:
    """Fold everything stored into the rollups and the text index, as the idle writer does."""
    conn = connect(store.path)
    try:
        return roll_up_all(conn)
    finally:
        conn.close()
