"""`localobs export` and `localobs import`: stored telemetry out as OTLP, and OTLP JSON lines in."""

from __future__ import annotations

import gzip
import re
import sys
import time
from pathlib import Path

import click

from localobs.cli.forwarding import header_pairs
from localobs.cli.group import db_option, main, no_redact_option, open_store
from localobs.credentials import mask_credentials
from localobs.literal import visible
from localobs.private_files import private_opener
from localobs.store.export import ExportFilter

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in '90s', '15m', '2h', '7d' (a bare number is seconds)."""
    match = _DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration such as 30m, 2h or 7d")
    return float(match.group(1)) * _SECONDS[(match.group(2) or "s").lower()]


def _trace_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", value):
        raise click.BadParameter("a trace id is 32 hex digits")
    return value


@main.command()
@db_option
@click.option("--to", "url", metavar="URL", help="OTLP endpoint to send to (a base URL).")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write OTLP JSON lines here instead ('-': standard output).",
)
@click.option(
    "--protocol",
    type=click.Choice(["http/protobuf", "grpc"]),
    default="http/protobuf",
    show_default=True,
    help="With --to: OTLP over HTTP (protobuf) or gRPC.",
)
@click.option(
    "--header", multiple=True, metavar="KEY=VALUE", callback=header_pairs, help="With --to."
)
@click.option("--since", metavar="DURATION", help="Only the last DURATION, e.g. 30m, 2h, 7d.")
@click.option("--trace-id", callback=_trace_id, help="Only this trace's spans and logs.")
@click.option("--service", help="Only this service.name.")
def export(
    db: Path,
    url: str | None,
    path: Path | None,
    protocol: str,
    header: tuple[tuple[str, str], ...],
    since: str | None,
    trace_id: str | None,
    service: str | None,
) -> None:
    """Replay stored spans, logs and metric points as OTLP, to an endpoint or a file."""
    from localobs.transfer.export import export_to_endpoint, export_to_file
    from localobs.transfer.senders import make_sender

    if (url is None) == (path is None):
        raise click.UsageError("give either --to URL or --file PATH")
    selection = ExportFilter(
        since_unix_nano=time.time_ns() - int(parse_duration(since) * 1e9) if since else None,
        trace_id=trace_id,
        service=service,
    )
    conn = open_store(db).reader()
    try:
        if path is not None:
            # The file holds prompts: readable by the user only, like the database.
            opened = (
                click.open_file("-", "wb")
                if str(path) == "-"
                else open(path, "wb", opener=private_opener)  # noqa: SIM115
            )
            with opened as out:
                result = export_to_file(conn, selection, out)
            target = "standard output" if str(path) == "-" else str(path)
        else:
            assert url is not None
            sender = make_sender(url, protocol, header)  # type: ignore[arg-type]
            try:
                result = export_to_endpoint(conn, selection, sender)
            finally:
                sender.close()
            target = f"{mask_credentials(url)} ({protocol})"
    finally:
        conn.close()
    items = result.items
    to_stdout = path is not None and str(path) == "-"
    click.echo(
        f"exported {items['traces']} spans, {items['logs']} logs and {items['metrics']} metric "
        f"points in {result.requests} requests to {target}",
        err=to_stdout,
    )
    redaction = result.redaction
    if redaction.complete:
        note = f"content redacted at ingest ({redaction.total} credentials replaced)"
    else:
        note = (
            f"content NOT fully redacted: {redaction.unredacted_batches} batches were stored "
            "with --no-redact and may hold credentials"
        )
    click.echo(note, err=to_stdout)
    if result.failed:
        for failure in result.failed:
            click.echo(f"not taken: {visible(mask_credentials(str(failure)))}", err=True)
        raise SystemExit(1)


@main.command("import")
@db_option
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@no_redact_option
def import_(db: Path, file: Path, no_redact: bool) -> None:
    """Store OTLP JSON lines (from `localobs export --file`, or the Collector's file exporter)."""
    from localobs.transfer.importer import import_lines

    store = open_store(db)
    store.start_writer()
    try:
        if str(file) == "-":
            result = import_lines(store, sys.stdin.buffer, redact=not no_redact)
        else:
            opener = gzip.open if file.suffix == ".gz" else open
            try:
                with opener(file, "rb") as source:
                    result = import_lines(store, source, redact=not no_redact)
            except OSError as exc:
                raise click.ClickException(f"cannot read {file}: {exc}") from exc
    finally:
        store.close()
    items = result.items
    click.echo(
        f"imported {items.get('traces', 0)} spans, {items.get('logs', 0)} logs and "
        f"{items.get('metrics', 0)} metric points from {file}"
    )
    if result.rejected:
        click.echo(f"refused {result.rejected} invalid items", err=True)
    for problem in result.problems:
        click.echo(f"skipped {visible(str(problem))}", err=True)
    if result.problems:
        raise SystemExit(1)
