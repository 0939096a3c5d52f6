"""Commands that read the store: `localobs info` and `localobs spans`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson

from localobs.cli.forwarding import describe
from localobs.cli.group import db_option, json_option, main, open_store
from localobs.cli.retention import format_bytes
from localobs.store.outbox import forwarding_status
from localobs.store.queries import database_summary, list_spans
from localobs.store.retention import RetentionStatus, retention_status


@main.command()
@db_option
@json_option
def info(db: Path, as_json: bool) -> None:
    """Database path, schema version and counts."""
    store = open_store(db)
    conn = store.reader()
    try:
        summary = database_summary(conn)
        forwarding = forwarding_status(conn)
        kept = retention_status(conn, db)
    finally:
        conn.close()
    data = {
        "db": str(db),
        "schema_version": summary.schema_version,
        "traces": summary.traces,
        "spans": summary.spans,
        "logs": summary.logs,
        "metric_points": summary.metric_points,
    }
    if as_json:
        data["forwarding"] = [asdict(each) | {"failing": each.failing} for each in forwarding]
        data["retention"] = asdict(kept) | {"pruning": kept.pruning}
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    for key, value in data.items():
        click.echo(f"{key:15} {value}")
    for key, value in describe_retention(kept).items():
        click.echo(f"{key:15} {value}")
    for each in forwarding:
        click.echo(f"{'forwarding':15} {describe(each)}")


def describe_retention(status: RetentionStatus) -> dict[str, str]:
    """The retention lines of `info`: size against the cap, the window, what was pruned."""
    cap = f"of {format_bytes(status.max_db_bytes)}" if status.max_db_bytes else "(no cap)"
    window = f"{status.retention_s / 86400:g} days" if status.retention_s else "keep everything"
    pruned = status.pruned
    lines = {
        "size": f"{format_bytes(status.size_bytes)} {cap}: database, WAL and shm",
        "retention": window,
        "oldest": _timestamp(status.oldest_unix_nano) if status.oldest_unix_nano else "-",
        "newest": _timestamp(status.newest_unix_nano) if status.newest_unix_nano else "-",
        "pruned": f"{pruned.traces} traces ({pruned.spans} spans), {pruned.logs} logs, "
        f"{pruned.metric_points} metric points",
        "kept traces": str(status.kept_traces),
    }
    if status.pruning_since_unix_nano:
        lines["pruning"] = f"under way since {_timestamp(status.pruning_since_unix_nano)}"
    return lines


def _timestamp(unix_nano: int) -> str:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@main.command()
@db_option
@json_option
@click.option("--trace-id", help="Only this trace (32 hex digits).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
def spans(db: Path, as_json: bool, trace_id: str | None, limit: int) -> None:
    """Stored spans, newest first (one trace's spans in start order with --trace-id)."""
    store = open_store(db)
    conn = store.reader()
    try:
        found = list_spans(conn, trace_id=trace_id, limit=limit)
    finally:
        conn.close()
    if as_json:
        rows = [
            {
                "trace_id": span.trace_id,
                "span_id": span.span_id,
                "parent_span_id": span.parent_span_id,
                "name": span.name,
                "kind": span.kind,
                "service_name": span.service_name,
                "start_time_unix_nano": span.start_time_unix_nano,
                "end_time_unix_nano": span.end_time_unix_nano,
                "duration_ms": span.duration_ms,
                "status_code": span.status_code,
                "attributes": span.attributes,
            }
            for span in found
        ]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    for span in found:
        click.echo(
            f"{_timestamp(span.start_time_unix_nano)}  {span.trace_id}  {span.span_id}  "
            f"{span.duration_ms:10.2f} ms  {span.service_name or '-'}  {span.name}"
        )
