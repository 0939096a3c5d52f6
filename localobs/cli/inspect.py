"""Commands that read the store: `localobs info` and `localobs spans`."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import click

from localobs.cli.forwarding import describe
from localobs.cli.group import NO_REDACTION_SOURCE, db_option, json_option, main, open_store
from localobs.cli.output import timestamp
from localobs.cli.retention import format_bytes
from localobs.conditions import Condition, read_status_file
from localobs.conditions import describe as describe_condition
from localobs.credentials import masked_status
from localobs.literal import json_text, visible
from localobs.store.outbox import forwarding_status
from localobs.store.queries import database_summary, list_spans
from localobs.store.redactions import RedactionSummary, redaction_summary
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
        redactions = redaction_summary(conn)
        kept = retention_status(conn, db)
    finally:
        conn.close()
    live_redacts = _live_redacts(db)
    data = {
        "db": str(db),
        "schema_version": summary.schema_version,
        "traces": summary.traces,
        "spans": summary.spans,
        "logs": summary.logs,
        "metric_points": summary.metric_points,
    }
    live = read_status_file(db)
    if as_json:
        data["forwarding"] = [masked_status(each) for each in forwarding]
        data["receiving"] = live is not None
        data["conditions"] = [asdict(each) for each in live or ()]
        data["redaction"] = {
            "live_receiver_redacts": live_redacts,
            "credentials_redacted": redactions.total,
            "by_kind": dict(redactions.by_kind),
            "unredacted_batches": redactions.unredacted_batches,
        }
        data["retention"] = asdict(kept) | {"pruning": kept.pruning}
        click.echo(json_text(data))
        return
    for key, value in data.items():
        click.echo(f"{key:15} {visible(str(value))}")
    for key, value in describe_retention(kept).items():
        click.echo(f"{key:15} {value}")
    for each in forwarding:
        click.echo(f"{'forwarding':15} {describe(each)}")
    click.echo(f"{'receiving':15} {_receiving(live)}")
    now = time.time()
    for condition in live or ():
        click.echo(f"{condition.level:15} {visible(describe_condition(condition, now))}")

    click.echo(f"{'redaction':15} {_describe_redaction(redactions, live_redacts)}")


def _receiving(live: tuple[Condition, ...] | None) -> str:
    if live is None:
        return "no (no localobs up is running on this database)"
    return "yes" if not live else f"yes, with {len(live)} condition(s):"


def _live_redacts(db: Path) -> bool | None:
    """Whether the `localobs up` running on `db` redacts; None when none runs."""
    live = read_status_file(db)
    if live is None:
        return None
    return all(each.source != NO_REDACTION_SOURCE for each in live)


def _describe_redaction(summary: RedactionSummary, live_redacts: bool | None) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in summary.by_kind)
    replaced = f"{summary.total} credentials replaced" + (f" ({kinds})" if kinds else "")
    parts: list[str] = []
    if live_redacts is False:
        parts.append("off in the running localobs up (--no-redact)")
    elif summary.complete:
        parts.append("on")
    if not summary.complete:
        parts.append(
            f"{summary.unredacted_batches} stored batches were not redacted (--no-redact) "
            "and may hold credentials"
        )
    return "; ".join([*parts, replaced])


def describe_retention(status: RetentionStatus) -> dict[str, str]:
    """The retention lines of `info`: size against the cap, the window, what was pruned."""
    cap = f"of {format_bytes(status.max_db_bytes)}" if status.max_db_bytes else "(no cap)"
    window = f"{status.retention_s / 86400:g} days" if status.retention_s else "keep everything"
    pruned = status.pruned
    lines = {
        "size": f"{format_bytes(status.size_bytes)} {cap}: database, WAL and shm",
        "retention": window,
        "oldest": timestamp(status.oldest_unix_nano) if status.oldest_unix_nano else "-",
        "newest": timestamp(status.newest_unix_nano) if status.newest_unix_nano else "-",
        "pruned": f"{pruned.traces} traces ({pruned.spans} spans), {pruned.logs} logs, "
        f"{pruned.metric_points} metric points",
        "kept traces": str(status.kept_traces),
    }
    if status.pruning_since_unix_nano:
        lines["pruning"] = f"under way since {timestamp(status.pruning_since_unix_nano)}"
    return lines


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
        click.echo(json_text(rows))
        return
    for span in found:
        click.echo(
            f"{timestamp(span.start_time_unix_nano)}  {visible(span.trace_id)}  "
            f"{visible(span.span_id)}  "
            f"{span.duration_ms:10.2f} ms  {visible(span.service_name or '-')}  "
            f"{visible(span.name)}"
        )
