"""`localobs prune` and `localobs keep`: retention by hand, and the traces it must never delete.

Both work on a live database too: `prune` deletes in small transactions between the writer's
commits, and `keep` is one insert.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from localobs.cli.group import db_option, main, open_store
from localobs.cli.receiver_options import parse_size
from localobs.cli.transfer import parse_duration
from localobs.store.database import connect
from localobs.store.retention import (
    InvalidTraceId,
    PruneGoal,
    files_size,
    keep_trace,
    kept_traces,
    unkeep_trace,
)
from localobs.store.retention import (
    prune as prune_store,
)


def format_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


@main.command()
@db_option
@click.option(
    "--older-than", metavar="DURATION", help="Delete what was received longer ago: 7d, 12h."
)
@click.option(
    "--to-size", metavar="SIZE", help="Delete the oldest until the files fit, e.g. 500MiB."
)
def prune(db: Path, older_than: str | None, to_size: str | None) -> None:
    """Delete the oldest whole traces (and logs and metric points of the same age) now; kept
    traces stay. Works while `localobs up` runs."""
    if older_than is None and to_size is None:
        raise click.UsageError("say what to prune: --older-than DURATION and/or --to-size SIZE")
    goal = PruneGoal(
        time.time_ns() - round(parse_duration(older_than) * 1e9) if older_than else None,
        parse_size(to_size) if to_size else None,
    )
    open_store(db)  # checks (and upgrades) the file
    before = files_size(db)
    conn = connect(db)
    try:
        pruned = prune_store(conn, db, goal)
    finally:
        conn.close()
    click.echo(
        f"pruned {pruned.traces} traces ({pruned.spans} spans), {pruned.logs} logs and "
        f"{pruned.metric_points} metric points; the files took {format_bytes(before)}, "
        f"now {format_bytes(files_size(db))}"
    )


@main.command()
@db_option
@click.argument("trace_id", required=False)
@click.option("--list", "show", is_flag=True, help="List the kept traces.")
@click.option("--remove", is_flag=True, help="Let retention delete TRACE_ID again.")
def keep(db: Path, trace_id: str | None, show: bool, remove: bool) -> None:
    """Exempt TRACE_ID from retention (a trace to show later), list kept traces, or --remove."""
    if show == (trace_id is not None):
        raise click.UsageError("give a TRACE_ID, or --list")
    open_store(db)
    conn = connect(db)
    try:
        if show:
            for kept in kept_traces(conn):
                stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(kept.kept_unix_nano / 1e9))
                click.echo(f"{kept.trace_id}  kept {stamp}")
            return
        assert trace_id is not None
        try:
            if remove:
                changed = unkeep_trace(conn, trace_id)
                click.echo(f"{trace_id}: {'no longer kept' if changed else 'was not kept'}")
            else:
                changed = keep_trace(conn, trace_id, time.time_ns())
                state = "kept" if changed else "already kept"
                click.echo(f"{trace_id}: {state}; retention will not delete it")
        except InvalidTraceId as exc:
            raise click.BadParameter(str(exc), param_hint="TRACE_ID") from exc
    finally:
        conn.close()
