"""Two runs of the same workflow side by side: their steps aligned, with per-step deltas.

Steps are the spans in the trace's depth-first order, matched by name with a longest common
subsequence, so a step one run has and the other lacks shows as inserted or missing instead of
shifting every step after it out of line. Model-call steps carry their cost (store/cost.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from localobs.store.cost import Cost, CostSum, sum_costs, total_cost_text, usd_delta_text
from localobs.store.traces import TraceSpan, TraceTree, get_trace

StepKind = Literal["same", "inserted", "missing"]
# Above this many cells (steps x steps) alignment falls back to matching in order: 4 M cells of
# the dynamic programme take about a second in Python.
_MAX_CELLS = 4_000_000


@dataclass(frozen=True, slots=True)
class AlignedStep:
    """`a` is the marked (reference) run's span, `b` the current run's; one is None unless
    `kind` is "same". `missing`: only in A; `inserted`: only in B."""

    kind: StepKind
    a: TraceSpan | None
    b: TraceSpan | None

    @property
    def name(self) -> str:
        span = self.b or self.a
        assert span is not None
        return span.name

    @property
    def depth(self) -> int:
        span = self.b or self.a
        assert span is not None
        return span.depth

    @property
    def duration_delta_ms(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b.duration_ms - self.a.duration_ms

    @property
    def tokens_delta(self) -> int | None:
        """Change in input + output tokens; None unless both runs reported usage."""
        if self.a is None or self.b is None:
            return None
        a, b = _tokens(self.a), _tokens(self.b)
        return None if a is None or b is None else b - a

    @property
    def cost_delta_usd(self) -> float | None:
        """Change in a model call's cost; None unless both costs are known."""
        if self.a is None or self.b is None or self.a.cost_usd is None or self.b.cost_usd is None:
            return None
        return self.b.cost_usd - self.a.cost_usd


@dataclass(frozen=True, slots=True)
class TraceComparison:
    a: TraceTree
    b: TraceTree
    steps: tuple[AlignedStep, ...]

    @property
    def duration_delta_ms(self) -> float:
        return self.b.duration_ms - self.a.duration_ms

    @property
    def cost_a(self) -> CostSum:
        return trace_cost(self.a)

    @property
    def cost_b(self) -> CostSum:
        return trace_cost(self.b)

    @property
    def cost_delta_usd(self) -> float | None:
        """B's cost minus A's; None unless every model call of both runs has a known cost (a
        delta of partial sums would compare different things)."""
        a, b = self.cost_a, self.cost_b
        if a.unpriced or b.unpriced or a.usd is None or b.usd is None:
            return None
        return b.usd - a.usd


def cost_change_text(found: TraceComparison) -> str:
    """`cost $0.0100 → $0.0140 (+$0.0040)`; unpriced calls counted, and then no delta."""
    a, b = found.cost_a, found.cost_b
    calls_a = sum(span.call_id is not None for span in found.a.spans)
    calls_b = sum(span.call_id is not None for span in found.b.spans)
    delta = found.cost_delta_usd
    return (
        f"cost {total_cost_text(a.usd, a.unpriced, calls_a)} → "
        f"{total_cost_text(b.usd, b.unpriced, calls_b)}"
        + ("" if delta is None else f" ({usd_delta_text(delta)})")
    )


def trace_cost(tree: TraceTree) -> CostSum:
    """The known costs of a trace's model calls, and how many calls had none."""
    return sum_costs(
        [Cost(span.cost_usd, span.cost_source) for span in tree.spans if span.call_id is not None]
    )


def _tokens(span: TraceSpan) -> int | None:
    if span.input_tokens is None and span.output_tokens is None:
        return None
    return (span.input_tokens or 0) + (span.output_tokens or 0)


def lcs_pairs(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Index pairs of a longest common subsequence of `a` and `b` (earliest matches first)."""
    if len(a) * len(b) > _MAX_CELLS:
        pairs, j = [], 0
        for i, item in enumerate(a):
            if j < len(b) and item == b[j]:
                pairs.append((i, j))
                j += 1
        return pairs
    # lengths[i][j]: LCS length of a[i:] and b[j:]
    lengths = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        row, below = lengths[i], lengths[i + 1]
        for j in range(len(b) - 1, -1, -1):
            row[j] = below[j + 1] + 1 if a[i] == b[j] else max(below[j], row[j + 1])
    pairs = []
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def align(a: TraceTree, b: TraceTree) -> TraceComparison:
    """A's and B's steps in one list: matched steps once, unmatched ones where they occur."""
    pairs = lcs_pairs([s.name for s in a.spans], [s.name for s in b.spans])
    steps: list[AlignedStep] = []
    i = j = 0
    for pi, pj in [*pairs, (len(a.spans), len(b.spans))]:
        steps.extend(AlignedStep("missing", span, None) for span in a.spans[i:pi])
        steps.extend(AlignedStep("inserted", None, span) for span in b.spans[j:pj])
        if pi < len(a.spans):
            steps.append(AlignedStep("same", a.spans[pi], b.spans[pj]))
        i, j = pi + 1, pj + 1
    return TraceComparison(a, b, tuple(steps))


def compare_traces(conn: sqlite3.Connection, trace_a: str, trace_b: str) -> TraceComparison | None:
    """None when either trace is not stored."""
    a, b = get_trace(conn, trace_a), get_trace(conn, trace_b)
    if a is None or b is None:
        return None
    return align(a, b)
