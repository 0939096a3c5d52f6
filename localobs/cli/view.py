"""`localobs view`: the terminal viewer on an existing database, without a receiver."""

from __future__ import annotations

from pathlib import Path

import click

from localobs.cli.group import db_option, main, open_store


@main.command()
@db_option
def view(db: Path) -> None:
    """Browse the calls stored in DB (read only but for `k`, which keeps a trace from
    retention; a running `localobs up` may keep writing)."""
    if not db.exists():
        raise click.ClickException(f"{db} does not exist: run `localobs up` first, or pass --db")
    store = open_store(db)
    from localobs.tui.app import run_tui

    run_tui(store, None)
