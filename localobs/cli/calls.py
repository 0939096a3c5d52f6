"""Commands over model calls: `localobs calls`, `localobs stats` and `localobs trace`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from localobs.cli.group import db_option, json_option, main, open_store
from localobs.cli.output import echo_json, ms, number, parse_window, table, timestamp
from localobs.literal import visible
from localobs.store.call_filter import CallFilter
from localobs.store.calls import CallSummary, list_calls
from localobs.store.coding_agents import coding_agent_totals, summary_text
from localobs.store.cost import price_table, total_cost_text, usd_text
from localobs.store.evaluations import call_evaluations
from localobs.store.metrics_query import genai_metric_summary
from localobs.store.stats import TTFT_FROM_CALLS, ModelStats, component_stats, totals
from localobs.store.token_estimate import estimated_calls_text
from localobs.store.traces import get_trace

_TOP_COMPONENTS = 15


def _status(call: CallSummary) -> str:
    if call.is_error:
        return f"ERROR {visible(call.error_type)}" if call.error_type else "ERROR"
    return "ok"


@main.command()
@db_option
@json_option
@click.option("--model", help="Only calls that requested or got this model.")
@click.option("--service", help="Only calls of this service.")
@click.option("--search", help="Words that must all appear in the prompts or completions.")
@click.option("--errors", is_flag=True, help="Only failed calls.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
def calls(
    db: Path,
    as_json: bool,
    model: str | None,
    service: str | None,
    search: str | None,
    errors: bool,
    limit: int,
) -> None:
    """Model calls, newest first."""
    store = open_store(db)
    conn = store.reader()
    try:
        flt = CallFilter(model=model, service=service, text=search, errors_only=errors)
        found = list_calls(conn, flt, limit=limit)
        evaluations = (
            [call_evaluations(conn, call.trace_id, call.span_id) for call in found]
            if as_json
            else []
        )
    finally:
        conn.close()
    if as_json:
        echo_json(
            [
                {**_call_json(call), "evaluations": evaluated}
                for call, evaluated in zip(found, evaluations, strict=True)
            ]
        )
        return
    if not found:
        click.echo("no model calls match")
        return
    rows = [
        [
            timestamp(call.start_time_unix_nano),
            str(call.call_id),
            visible(call.service_name or "-"),
            visible(call.model or "-"),
            ms(call.duration_ms),
            ms(call.ttft_ms),
            tokens(call.input_tokens, call.input_tokens_estimate),
            tokens(call.output_tokens, call.output_tokens_estimate),
            usd_text(call.cost_usd),
            _status(call),
            visible(call.preview, width=80),
        ]
        for call in found
    ]
    header = ["start (UTC)", "call", "service", "model", "duration", "ttft", "in", "out", "cost"]
    table([*header, "status", "last user message"], rows, right={1, 4, 5, 6, 7, 8})


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


def _ttft_from_metric(stats: ModelStats) -> bool:
    return stats.ttft_source not in (None, TTFT_FROM_CALLS)


def _call_json(call: CallSummary) -> dict[str, Any]:
    """A call's fields; a count nobody reported stays null, its estimate apart and flagged."""
    return {
        **_fields(call),
        "model": call.model,
        "input_tokens_estimated": call.input_tokens_estimated,
        "output_tokens_estimated": call.output_tokens_estimated,
    }


def tokens(reported: int | None, estimate: int | None) -> str:
    """A reported count, else its estimate marked `~` (store/token_estimate.py), else `-`."""
    if reported is None and estimate is not None:
        return f"~{estimate:,}"
    return number(reported)


def _estimated(estimated: int, calls: int, input_estimate: int, output_estimate: int) -> str:
    if not estimated:
        return ""
    return (
        f" (+~{input_estimate:,} input and ~{output_estimate:,} output tokens estimated:"
        f" {estimated_calls_text(estimated, calls)})"
    )


@main.command()
@db_option
@json_option
@click.option(
    "--window", default="all", show_default=True, help="How far back: 5m, 1h, 2d ... or all."
)
def stats(db: Path, as_json: bool, window: str) -> None:
    """Calls, tokens and latency per model, the slowest components, and GenAI metrics."""
    window_s = parse_window(window)
    store = open_store(db)
    conn = store.reader()
    try:
        found = totals(conn, time.time_ns, window_s)
        components = component_stats(conn, time.time_ns, window_s)
        metrics = genai_metric_summary(conn, time.time_ns, window_s)
        agents = coding_agent_totals(conn, time.time_ns, window_s)
    finally:
        conn.close()
    if as_json:
        echo_json(
            {
                "window_s": window_s,
                "totals": found,
                "components": components,
                "genai_metrics": metrics,
                "coding_agents": agents,
            }
        )
        return
    approx = "" if found.exact_percentiles else " (percentiles interpolated)"
    cached = ""
    if found.cache_read_tokens or found.cache_write_tokens:
        cached = (
            f" (input includes {found.cache_read_tokens:,} read from and"
            f" {found.cache_write_tokens:,} written to a cache)"
        )
    estimated = _estimated(
        found.estimated_calls, found.calls, found.input_tokens_estimate,
        found.output_tokens_estimate,
    )  # fmt: skip
    click.echo(
        f"{found.calls:,} calls, {found.errors:,} errors, {found.input_tokens:,} input and"
        f" {found.output_tokens:,} output tokens{cached}{estimated}{approx}"
    )
    click.echo(
        f"cost {total_cost_text(found.cost_usd, found.unpriced_calls, found.calls)}"
        f" (list prices as of {price_table().as_of}; local models cost $0)"
    )
    for agent in agents:
        click.echo(summary_text(agent))
    if found.per_model:
        click.echo("")
        table(
            [
                "model",
                "calls",
                "errors",
                "in",
                "cache(r/w)",
                "out",
                "estimated",
                "cost",
                "p50",
                "p95",
                "ttft p50",
                "tokens/s p50",
            ],
            [
                [
                    visible(m.model),
                    number(m.calls),
                    number(m.errors),
                    number(m.input_tokens),
                    f"{m.cache_read_tokens:,}/{m.cache_write_tokens:,}"
                    if m.cache_read_tokens or m.cache_write_tokens
                    else "-",
                    number(m.output_tokens),
                    (
                        f"~{m.input_tokens_estimate:,}→~{m.output_tokens_estimate:,}"
                        f" ({m.estimated_calls:,} calls)"
                        if m.estimated_calls
                        else "-"
                    ),
                    usd_text(m.cost_usd),
                    ms(m.duration_p50_ms),
                    ms(m.duration_p95_ms),
                    ms(m.ttft_p50_ms) + ("*" if _ttft_from_metric(m) else ""),
                    number(m.tokens_per_s_p50, 1),
                ]
                for m in found.per_model
            ],
            right=set(range(1, 11)),
        )
        for m in found.per_model:
            if _ttft_from_metric(m):
                click.echo(
                    f"* {visible(m.model)}: TTFT from the metric {visible(m.ttft_source or '')}"
                    " (none of its calls carried one)"
                )
    if components:
        click.echo("")
        table(
            ["component", "count", "p50", "p95", "total", "share", "self", "self share"],
            [
                [
                    visible(c.name),
                    number(c.count),
                    ms(c.p50_ms),
                    ms(c.p95_ms),
                    ms(c.total_ms),
                    f"{c.share_of_total:.0%}",
                    ms(c.self_ms),
                    f"{c.share_of_self:.0%}",
                ]
                for c in components[:_TOP_COMPONENTS]
            ],
            right=set(range(1, 8)),
        )
    if metrics:
        click.echo("")
        table(
            ["metric", "unit", "count", "p50", "p95", "total"],
            [
                [
                    visible(m.name),
                    visible(m.unit or "-"),
                    number(m.count),
                    number(m.p50, 3),
                    number(m.p95, 3),
                    number(m.total),
                ]
                for m in metrics
            ],
            right={2, 3, 4, 5},
        )


@main.command()
@db_option
@json_option
@click.argument("trace_id")
def trace(db: Path, as_json: bool, trace_id: str) -> None:
    """One trace as a tree: offset, duration and self time per span; * marks the critical path."""
    store = open_store(db)
    conn = store.reader()
    try:
        tree = get_trace(conn, trace_id)
    finally:
        conn.close()
    if tree is None:
        raise click.ClickException(f"no trace {trace_id} in {db}")
    if as_json:
        echo_json(tree)
        return
    click.echo(
        f"trace {visible(tree.trace_id)}  {timestamp(tree.start_unix_nano)} UTC"
        f"  {ms(tree.duration_ms)}"
    )
    rows = []
    for span in tree.spans:
        details = []
        if span.model:
            details.append(visible(span.model))
        if span.input_tokens is not None or span.output_tokens is not None:
            details.append(f"{number(span.input_tokens)} in / {number(span.output_tokens)} out")
        if span.call_id is not None:
            details.append(f"call {span.call_id}  {usd_text(span.cost_usd)}")
        rows.append(
            [
                ("*" if span.on_critical_path else " ") + "  " * span.depth + visible(span.name),
                visible(span.service_name or "-"),
                ms(span.start_offset_ms),
                ms(span.duration_ms),
                ms(span.self_time_ms),
                "ERROR" if span.is_error else "",
                "  ".join(details),
            ]
        )
    table(["span", "service", "offset", "duration", "self", "", ""], rows, right={2, 3, 4})
