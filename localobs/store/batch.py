"""What the receiver hands to the store: plain row tuples, inserted without per-value work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Signal = Literal["traces", "logs", "metrics"]
Row = tuple[Any, ...]

# Row values are SQLite values: None, str, bytes, float, or an int SQLite can store (64-bit signed).
# A larger Python int makes the writer's insert fail, so the receiver refuses or re-types it first.
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def fits_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


@dataclass(slots=True)
class Batch:
    """One accepted request, decoded.

    `rows` follow the column order of the signal's table in `schema.py`; `resources` and `scopes`
    are the rows those reference by id. `digest` identifies the request body, so an exporter's
    retry of the same body is stored once. `weight` (bytes) bounds the memory held by pending
    batches. `genai` holds (trace_id, span_id, patch) of GenAI log events, which the writer joins
    to their call's span row whichever arrives first. `derived` holds span rows built from log
    events (coding agents' calls, tool steps and turns; see receiver/genai/derived.py).
    `forward` (set by the store when it forwards) makes the writer record the inserted rows in
    the outbox, in the same transaction.
    """

    signal: Signal
    digest: str
    rows: list[Row] = field(default_factory=list)
    resources: list[Row] = field(default_factory=list)
    scopes: list[Row] = field(default_factory=list)
    weight: int = 0
    genai: list[Row] = field(default_factory=list)
    derived: list[Row] = field(default_factory=list)
    forward: bool = False
    redactions: dict[str, int] | None = None

    def to_wire(self, batch_id: int) -> tuple[Any, ...]:
        """The marshal-able form sent to the writer process."""
        return (
            batch_id,
            self.signal,
            self.digest,
            self.resources,
            self.scopes,
            self.rows,
            self.weight if self.forward else None,
            self.genai,
            self.redactions,
            self.derived,
        )
