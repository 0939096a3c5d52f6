"""Commands over model calls: `localobs calls`, `localobs stats` and `localobs trace`."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from localobs.cli.group import db_option, json_option, main, open_store
from localobs.literal import json_text, visible
from localobs.store.call_filter import CallFilter
from localobs.store.calls import CallSummary, list_calls
from localobs.store.cost import price_table, total_cost_text, usd_text
from localobs.store.metrics_query import genai_metric_summary
from localobs.store.stats import component_stats, totals
from localobs.store.traces import get_trace

_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$", re.IGNORECASE)
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TOP_COMPONENTS = 15


def parse_window(text: str) -> float | None:
    """`5m`, `1h`, `30s`, `2d` to seconds; `all` to None (all time)."""
    if text.strip().lower() == "all":
        return None
    match = _WINDOW.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a window such as 5m, 1h, 2d or all")
    return float(match.group(1)) * _WINDOW_UNITS[match.group(2).lower()]


def _echo_json(value: Any) -> None:
    click.echo(json_text(value))


def _timestamp(unix_nano: int) -> str:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 3_600_000:
        return f"{value / 3_600_000:,.1f} h"
    if value >= 60_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _number(value: float | int | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> None:
    """Columns aligned to their widest cell; the last column is left unpadded."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


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
    finally:
        conn.close()
    if as_json:
        _echo_json([{**_fields(call), "model": call.model} for call in found])
        return
    if not found:
        click.echo("no model calls match")
        return
    rows = [
        [
            _timestamp(call.start_time_unix_nano),
            str(call.call_id),
            visible(call.service_name or "-"),
            visible(call.model or "-"),
            _ms(call.duration_ms),
            _ms(call.ttft_ms),
            _number(call.input_tokens),
            _number(call.output_tokens),
            usd_text(call.cost_usd),
            _status(call),
            visible(call.preview, width=80),
        ]
        for call in found
    ]
    header = ["start (UTC)", "call", "service", "model", "duration", "ttft", "in", "out", "cost"]
    _table([*header, "status", "last user message"], rows, right={1, 4, 5, 6, 7, 8})


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


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
    finally:
        conn.close()
    if as_json:
        _echo_json(
            {
                "window_s": window_s,
                "totals": found,
                "components": components,
                "genai_metrics": metrics,
            }
        )
        return
    approx = "" if found.exact_percentiles else " (percentiles interpolated)"
    click.echo(
        f"{found.calls:,} calls, {found.errors:,} errors, {found.input_tokens:,} input and"
        f" {found.output_tokens:,} output tokens{approx}"
    )
    click.echo(
        f"cost {total_cost_text(found.cost_usd, found.unpriced_calls, found.calls)}"
        f" (list prices as of {price_table().as_of}; local models cost $0)"
    )
    if found.per_model:
        click.echo("")
        _table(
            [
                "model",
                "calls",
                "errors",
                "in",
                "out",
                "cost",
                "p50",
                "p95",
                "ttft p50",
                "tokens/s p50",
            ],
            [
                [
                    visible(m.model),
                    _number(m.calls),
                    _number(m.errors),
                    _number(m.input_tokens),
                    _number(m.output_tokens),
                    usd_text(m.cost_usd),
                    _ms(m.duration_p50_ms),
                    _ms(m.duration_p95_ms),
                    _ms(m.ttft_p50_ms),
                    _number(m.tokens_per_s_p50, 1),
                ]
                for m in found.per_model
            ],
            right=set(range(1, 10)),
        )
    if components:
        click.echo("")
        _table(
            ["component", "count", "p50", "p95", "total", "share", "self", "self share"],
            [
                [
                    visible(c.name),
                    _number(c.count),
                    _ms(c.p50_ms),
                    _ms(c.p95_ms),
                    _ms(c.total_ms),
                    f"{c.share_of_total:.0%}",
                    _ms(c.self_ms),
                    f"{c.share_of_self:.0%}",
                ]
                for c in components[:_TOP_COMPONENTS]
            ],
            right=set(range(1, 8)),
        )
    if metrics:
        click.echo("")
        _table(
            ["metric", "unit", "count", "p50", "p95"],
            [
                [
                    visible(m.name),
                    visible(m.unit or "-"),
                    _number(m.count),
                    _number(m.p50, 3),
                    _number(m.p95, 3),
                ]
                for m in metrics
            ],
            right={2, 3, 4},
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
        _echo_json(tree)
        return
    click.echo(
        f"trace {visible(tree.trace_id)}  {_timestamp(tree.start_unix_nano)} UTC"
        f"  {_ms(tree.duration_ms)}"
    )
    rows = []
    for span in tree.spans:
        details = []
        if span.model:
            details.append(visible(span.model))
        if span.input_tokens is not None or span.output_tokens is not None:
            details.append(f"{_number(span.input_tokens)} in / {_number(span.output_tokens)} out")
        if span.call_id is not None:
            details.append(f"call {span.call_id}  {usd_text(span.cost_usd)}")
        rows.append(
            [
                ("*" if span.on_critical_path else " ") + "  " * span.depth + visible(span.name),
                visible(span.service_name or "-"),
                _ms(span.start_offset_ms),
                _ms(span.duration_ms),
                _ms(span.self_time_ms),
                "ERROR" if span.is_error else "",
                "  ".join(details),
            ]
        )
    _table(["span", "service", "offset", "duration", "self", "", ""], rows, right={2, 3, 4})
