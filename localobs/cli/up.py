"""`localobs up`: the receiver, the writer and (unless headless) the viewer, in one process."""

from __future__ import annotations

import logging
import shlex
import signal
import sys
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from localobs import __version__
from localobs.cli.forwarding import ForwardSettings, forward_options
from localobs.cli.group import (
    NO_REDACTION,
    NO_REDACTION_SOURCE,
    db_option,
    main,
    no_redact_option,
    open_store,
)
from localobs.cli.receiver_options import ReceiverSettings, parse_size, receiver_options
from localobs.cli.transfer import parse_duration
from localobs.conditions import describe as describe_condition
from localobs.demo_runner import DemoBot, DemoStatus
from localobs.server import PortInUse, ReceiverServer, is_loopback
from localobs.store import Store
from localobs.store.queries import row_counts
from localobs.store.retention import RetentionPolicy

if TYPE_CHECKING:
    from localobs.receiver.budget import MemoryBudget
    from localobs.receiver.grpc_server import GrpcReceiver
    from localobs.receiver.guards import AllowedHosts


@main.command()
@click.option("--host", default="127.0.0.1", envvar="LOCALOBS_HOST", show_default=True)
@click.option("--port", default=4318, type=int, envvar="LOCALOBS_PORT", show_default=True)
@click.option(
    "--grpc-port",
    default=4317,
    type=click.IntRange(min=0, max=65535),
    envvar="LOCALOBS_GRPC_PORT",
    show_default=True,
    help="Port for OTLP/gRPC on HOST; 0 turns gRPC off.",
)
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
@click.option(
    "--demo",
    is_flag=True,
    help="Also run the offline demo bot (needs the `demo` extra), restarted if it dies, "
    "but not after 3 exits soon after its start.",
)
@click.option(
    "--demo-args",
    default="",
    envvar="LOCALOBS_DEMO_ARGS",
    help="More options for the demo bot, e.g. '--model big.gguf --n-gpu-layers 99'.",
)
@no_redact_option
@click.option(
    "--max-db-size",
    default="2GiB",
    envvar="LOCALOBS_MAX_DB_SIZE",
    show_default=True,
    help="Cap on the database's files (with its WAL); the oldest traces go first. 0: no cap.",
)
@click.option(
    "--retention",
    default="30d",
    envvar="LOCALOBS_RETENTION",
    show_default=True,
    help="Delete data received longer ago than this, e.g. 7d or 12h; 0 keeps everything.",
)
@forward_options
@receiver_options
def up(
    host: str,
    port: int,
    grpc_port: int,
    db: Path,
    headless: bool,
    max_body: str,
    token: str | None,
    status_interval: float,
    demo: bool,
    demo_args: str,
    no_redact: bool,
    max_db_size: str,
    retention: str,
    forwarding: ForwardSettings | None,
    receiver: ReceiverSettings,
) -> None:
    """Receive OTLP/HTTP on HOST:PORT and OTLP/gRPC on HOST:GRPC-PORT and store it; stops cleanly
    on Ctrl-C or SIGTERM."""
    from localobs.receiver import create_receiver_app

    if not is_loopback(host) and not token:
        raise click.ClickException(
            f"binding to the non-loopback address {host} exposes your telemetry: "
            "set a token with --token or LOCALOBS_TOKEN"
        )
    limit = parse_size(max_body)
    policy = RetentionPolicy(parse_size(max_db_size), round(parse_duration(retention)))
    stop_requested = _stop_on_signals()  # from the start: a signal during start-up exits 0 too
    with ExitStack() as running:  # stops what started, in reverse order
        store = open_store(db)
        store.set_retention(policy)
        store.start_writer(forwarding=forwarding is not None)
        running.callback(store.close)
        if no_redact:
            store.conditions.set(NO_REDACTION_SOURCE, "info", NO_REDACTION)
        try:
            budget, allowed = receiver.memory_budget(), receiver.allowed_hosts(host)
            app = create_receiver_app(
                store,
                max_body=limit,
                token=token,
                budget=budget,
                allowed_hosts=allowed,
                redact=not no_redact,
            )
            server = ReceiverServer(app, host, port, receiver.limits)
            grpc_server = _grpc_receiver(
                store,
                host,
                grpc_port,
                limit,
                token,
                budget=budget,
                allowed_hosts=allowed,
                redact=not no_redact,
            )
        except PortInUse as exc:
            raise click.ClickException(str(exc)) from exc
        if forwarding is not None:
            # Through logging: on stderr when headless, into localobs.log while the viewer draws.
            warn = logging.getLogger("localobs.forward").warning
            running.callback(forwarding.start(store, warn=warn))
        server.start()
        running.callback(server.stop)
        if grpc_server is not None:
            grpc_server.start()
            running.callback(grpc_server.stop)
        _print_banner(server.url, grpc_server.url if grpc_server else None, db)
        if no_redact:
            click.echo(NO_REDACTION)
        if forwarding is not None:
            click.echo(forwarding.banner())
        if not headless and not (sys.stdin.isatty() and sys.stderr.isatty()):
            click.echo("(no terminal for the viewer: running headless)")
            headless = True
        if demo:
            bot = DemoBot(
                server.url,
                db.parent / "demo-bot.log",
                store.conditions,
                extra_args=tuple(shlex.split(demo_args)),
                on_change=_print_demo_status if headless else None,  # the viewer shows it
            )
            bot.start()
            running.callback(bot.stop)
            click.echo(f"demo bot started (its output: {bot.log_path})")
        if headless:
            _run_headless(store, status_interval, stop_requested)
        elif not stop_requested.is_set():
            from localobs.tui.app import run_tui

            # Until q or SIGTERM; then the stack stops the receivers.
            run_tui(store, server.url, grpc_server.url if grpc_server else None)
            click.echo("stopping: finishing in-flight writes")


def _grpc_receiver(
    store: Store,
    host: str,
    port: int,
    max_body: int,
    token: str | None,
    *,
    budget: MemoryBudget,
    allowed_hosts: AllowedHosts,
    redact: bool,
) -> GrpcReceiver | None:
    if port == 0:
        return None
    from localobs.receiver.grpc_server import GrpcReceiver

    return GrpcReceiver(
        store,
        host,
        port,
        max_body=max_body,
        token=token,
        budget=budget,
        allowed_hosts=allowed_hosts,
        redact=redact,
    )


def _print_banner(url: str, grpc_url: str | None, db: Path) -> None:
    click.echo(f"localobs {__version__} storing in {db}, receiving")
    click.echo(
        f"  OTLP/HTTP on {url}: OpenTelemetry JS, the Java agent 2.x, Python's "
        "otlp-proto-http exporter, any SDK with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
    )
    if grpc_url:
        click.echo(
            f"  OTLP/gRPC on {grpc_url}: opentelemetry-instrument and Python's "
            "opentelemetry-exporter-otlp, .NET, most Go and Rust setups (protocol grpc)"
        )
    click.echo("Point your app at it:")
    click.echo(f"  export OTEL_EXPORTER_OTLP_ENDPOINT={url}")
    click.echo("  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
    if grpc_url:
        click.echo(f"  (or, for a gRPC exporter: OTEL_EXPORTER_OTLP_ENDPOINT={grpc_url})")


def _print_demo_status(status: DemoStatus) -> None:
    """Headless: each state change of the demo bot, with its last lines when it died."""
    click.echo(f"{datetime.now():%H:%M:%S} {status.message}")
    if status.state in ("crashed", "gave up"):
        for line in status.log_tail:
            click.echo(f"    {line}")


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM (the viewer installs its own handlers when it runs)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def _run_headless(store: Store, status_interval: float, stop: threading.Event) -> None:
    """Print a status line now and then until `stop` is set."""
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
        now = time.time()
        for condition in store.conditions.snapshot():
            click.echo(f"{stamp} {condition.level}: {describe_condition(condition, now)}")
    click.echo("stopping: finishing in-flight writes")
