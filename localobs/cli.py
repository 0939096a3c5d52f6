"""The `localobs` command line. Thin: it wires the store, the receiver and the viewers together."""

from __future__ import annotations

import re
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from localobs import __version__
from localobs.server import PortInUse, ReceiverServer, is_loopback
from localobs.store import DatabaseTooNew, NotALocalobsDatabase, Store
from localobs.store.database import default_db_path
from localobs.store.queries import database_summary, list_spans, row_counts

_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KIB|MB|MIB|GB|GIB)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "KIB": 2**10, "MB": 10**6, "MIB": 2**20, "GB": 10**9, "GIB": 2**30}


def parse_size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a size such as 64MiB or 1000000")
    return int(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]


def open_store(db: Path) -> Store:
    try:
        return Store(db)
    except (NotALocalobsDatabase, DatabaseTooNew) as exc:
        raise click.ClickException(f"{db}: {exc}") from exc


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=default_db_path,
    envvar="LOCALOBS_DB",
    show_default="the user's data dir",
    help="SQLite database file.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
@click.version_option(__version__, prog_name="localobs")
def main() -> None:
    """Local, offline LLM observability: an OTLP receiver on SQLite and a terminal viewer."""


@main.command()
@click.option("--host", default="127.0.0.1", envvar="LOCALOBS_HOST", show_default=True)
@click.option("--port", default=4318, type=int, envvar="LOCALOBS_PORT", show_default=True)
@db_option
@click.option("--headless", is_flag=True, envvar="LOCALOBS_HEADLESS", help="Receive only, no TUI.")
@click.option(
    "--max-body",
    default="64MiB",
    envvar="LOCALOBS_MAX_BODY",
    show_default=True,
    help="Largest request body, after decompression.",
)
@click.option(
    "--token",
    envvar="LOCALOBS_TOKEN",
    help="Bearer token required from clients; mandatory off loopback.",
)
@click.option(
    "--status-interval",
    default=10.0,
    type=float,
    envvar="LOCALOBS_STATUS_INTERVAL",
    show_default=True,
    help="Seconds between status lines in headless mode.",
)
def up(
    host: str,
    port: int,
    db: Path,
    headless: bool,
    max_body: str,
    token: str | None,
    status_interval: float,
) -> None:
    """Receive OTLP/HTTP on HOST:PORT and store it; stops cleanly on Ctrl-C or SIGTERM."""
    from localobs.receiver import create_receiver_app

    if not is_loopback(host) and not token:
        raise click.ClickException(
            f"binding to the non-loopback address {host} exposes your telemetry: "
            "set a token with --token or LOCALOBS_TOKEN"
        )
    limit = parse_size(max_body)
    store = open_store(db)
    store.start_writer()
    try:
        try:
            server = ReceiverServer(
                create_receiver_app(store, max_body=limit, token=token), host, port
            )
        except PortInUse as exc:
            raise click.ClickException(str(exc)) from exc
        server.start()
        try:
            click.echo(
                f"localobs {__version__} receiving OTLP/HTTP on {server.url}, storing in {db}"
            )
            click.echo("Point your app at it:")
            click.echo(f"  export OTEL_EXPORTER_OTLP_ENDPOINT={server.url}")
            click.echo("  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
            if not headless:
                click.echo("(the terminal viewer is not built yet: running headless)")
            _run_headless(store, status_interval)
        finally:
            server.stop()
    finally:
        store.close()


def _run_headless(store: Store, status_interval: float) -> None:
    """Print a status line now and then until SIGINT or SIGTERM."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while not stop.wait(status_interval):
        conn = store.reader()
        try:
            counts = row_counts(conn)
        finally:
            conn.close()
        stamp = datetime.now().strftime("%H:%M:%S")
        click.echo(
            f"{stamp} spans={counts.spans} logs={counts.logs} metric_points={counts.metric_points}"
        )
    click.echo("stopping: finishing in-flight writes")


@main.command()
@db_option
@json_option
def info(db: Path, as_json: bool) -> None:
    """Database path, schema version and counts."""
    store = open_store(db)
    conn = store.reader()
    try:
        summary = database_summary(conn)
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
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    for key, value in data.items():
        click.echo(f"{key:15} {value}")


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


if __name__ == "__main__":
    sys.exit(main())
