"""Self time (a span's duration minus the union of its children's) and the critical path.

Shared by the trace view, the rollups and the read-time tail, so all three agree to the nanosecond.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol


class Timed(Protocol):
    """What self time and the critical path need of a span (rollups pass their own rows)."""

    @property
    def key(self) -> int: ...
    @property
    def span_id(self) -> str: ...
    @property
    def parent_span_id(self) -> str | None: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class Timing(NamedTuple):
    key: int
    span_id: str
    parent_span_id: str | None
    start: int
    end: int


def duration_ns(span: Timed) -> int:
    return max(0, span.end - span.start)


def covered_ns(start: int, end: int, intervals: Sequence[tuple[int, int]]) -> int:
    """How much of [start, end) the union of `intervals` covers."""
    if not intervals:
        return 0
    clipped = sorted(
        (max(low, start), min(high, end))
        for low, high in intervals
        if min(high, end) > max(low, start)
    )
    total = 0
    run_start, run_end = None, None
    for low, high in clipped:
        if run_end is None or low > run_end:
            if run_end is not None:
                total += run_end - run_start  # type: ignore[operator]
            run_start, run_end = low, high
        elif high > run_end:
            run_end = high
    if run_end is not None:
        total += run_end - run_start  # type: ignore[operator]
    return total


def children_intervals(spans: Iterable[Timed]) -> dict[str, list[tuple[int, int]]]:
    by_parent: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for span in spans:
        if span.parent_span_id:
            by_parent[span.parent_span_id].append((span.start, span.end))
    return by_parent


def self_time_changes(
    old: Sequence[Timed], new: Sequence[Timed]
) -> tuple[dict[int, int], dict[int, int]]:
    """For one trace: the self time of each `new` span, given every span stored so far, and the
    change in self time of each `old` span that `new` gave more children (never positive)."""
    old_kids = children_intervals(old)
    new_kids = children_intervals(new)
    self_ns = {}
    for span in new:
        kids = old_kids.get(span.span_id, []) + new_kids.get(span.span_id, [])
        self_ns[span.key] = duration_ns(span) - covered_ns(span.start, span.end, kids)
    changes = {}
    for span in old:
        added = new_kids.get(span.span_id)
        if added:
            before = old_kids.get(span.span_id, [])
            changes[span.key] = covered_ns(span.start, span.end, before) - covered_ns(
                span.start, span.end, before + added
            )
    return self_ns, changes


def critical_path(spans: Sequence[Timed]) -> set[int]:
    """Keys of the spans on the critical path: from the top, the child that ends last, then
    (walking back from that child's start) the child that ended before it, and so on, recursively
    (the method Jaeger uses). Spans whose parent is missing count as top-level."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Timed]] = defaultdict(list)
    for span in spans:
        known = span.parent_span_id in ids and span.parent_span_id != span.span_id
        parent = span.parent_span_id if known else None
        children[parent].append(span)
    for group in children.values():
        group.sort(key=lambda span: (span.end, duration_ns(span)), reverse=True)
    on_path: set[int] = set()
    visited: set[str | None] = set()
    stack: list[str | None] = [None]
    while stack:
        parent = stack.pop()
        if parent in visited:
            continue  # a cycle of parent ids: walk each span once
        visited.add(parent)
        cursor: int | None = None
        for child in children.get(parent, []):
            if cursor is None or child.end <= cursor:
                on_path.add(child.key)
                stack.append(child.span_id)
                cursor = child.start
    return on_path
