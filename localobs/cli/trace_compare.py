"""`localobs compare TRACE_A TRACE_B`: two runs of a workflow, steps aligned, with deltas."""

from __future__ import annotations

from pathlib import Path

import click

from localobs.cli.group import db_option, json_option, main, open_store
from localobs.cli.output import ms, table
from localobs.literal import json_text, visible
from localobs.store.cost import usd_delta_text, usd_text
from localobs.store.trace_compare import AlignedStep, compare_traces, cost_change_text
from localobs.store.traces import TraceSpan

_MARKS = {"same": " ", "inserted": "+", "missing": "-"}


def _tokens(span: TraceSpan | None) -> str:
    if span is None or (span.input_tokens is None and span.output_tokens is None):
        return ""
    return f"{span.input_tokens or 0}→{span.output_tokens or 0}"


def _step_json(step: AlignedStep) -> dict[str, object]:
    def side(span: TraceSpan | None) -> dict[str, object] | None:
        if span is None:
            return None
        return {
            "span_id": span.span_id,
            "duration_ms": span.duration_ms,
            "input_tokens": span.input_tokens,
            "output_tokens": span.output_tokens,
            "call_id": span.call_id,
            "cost_usd": span.cost_usd,
            "cost_source": span.cost_source,
        }

    return {
        "kind": step.kind,
        "name": step.name,
        "depth": step.depth,
        "a": side(step.a),
        "b": side(step.b),
        "duration_delta_ms": step.duration_delta_ms,
        "tokens_delta": step.tokens_delta,
        "cost_delta_usd": step.cost_delta_usd,
    }


def _cost(span: TraceSpan | None) -> str:
    return "" if span is None or span.call_id is None else usd_text(span.cost_usd)


@main.command("compare")
@db_option
@json_option
@click.argument("trace_a")
@click.argument("trace_b")
def compare(db: Path, as_json: bool, trace_a: str, trace_b: str) -> None:
    """Compare run TRACE_B with run TRACE_A: steps aligned by name (+ only in B, - only in A)."""
    conn = open_store(db).reader()
    try:
        found = compare_traces(conn, trace_a, trace_b)
    finally:
        conn.close()
    if found is None:
        raise click.ClickException(f"both traces must be stored in {db}")
    if as_json:
        document = {
            "a": found.a.trace_id,
            "b": found.b.trace_id,
            "duration_delta_ms": found.duration_delta_ms,
            "cost_a_usd": found.cost_a.usd,
            "cost_b_usd": found.cost_b.usd,
            "unpriced_calls_a": found.cost_a.unpriced,
            "unpriced_calls_b": found.cost_b.unpriced,
            "cost_delta_usd": found.cost_delta_usd,
            "steps": [_step_json(step) for step in found.steps],
        }
        click.echo(json_text(document))
        return
    click.echo(
        f"A {found.a.trace_id} {ms(found.a.duration_ms)}  B {found.b.trace_id} "
        f"{ms(found.b.duration_ms)}  {cost_change_text(found)}"
    )
    rows = [
        [
            _MARKS[step.kind],
            "  " * step.depth + visible(step.name),
            ms(step.a.duration_ms) if step.a else "",
            ms(step.b.duration_ms) if step.b else "",
            "" if step.duration_delta_ms is None else f"{step.duration_delta_ms:+,.1f} ms",
            _tokens(step.a),
            _tokens(step.b),
            "" if step.tokens_delta is None else f"{step.tokens_delta:+d}",
            _cost(step.a),
            _cost(step.b),
            usd_delta_text(step.cost_delta_usd),
        ]
        for step in found.steps
    ]
    header = ["", "step", "A", "B", "Δ", "A tok", "B tok", "Δ tok", "A $", "B $", "Δ $"]
    table(header, rows, right={2, 3, 4, 7, 8, 9, 10})
