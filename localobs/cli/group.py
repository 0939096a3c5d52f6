"""The click group and the options and helpers several commands share."""

from __future__ import annotations

from pathlib import Path

import click

from localobs import __version__
from localobs.store import DatabaseTooNew, NotALocalobsDatabase, Store
from localobs.store.database import default_db_path


@click.group()
@click.version_option(__version__, prog_name="localobs")
def main() -> None:
    """Local, offline LLM observability: an OTLP receiver on SQLite and a terminal viewer."""


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
no_redact_option = click.option(
    "--no-redact",
    is_flag=True,
    envvar="LOCALOBS_NO_REDACT",
    help="Store credentials found in telemetry (API keys, tokens, private keys, passwords in "
    "URLs) as they are, instead of replacing them with [redacted:KIND].",
)
# The condition a `localobs up --no-redact` sets on its board, which `info` reads.
NO_REDACTION_SOURCE = "redaction"
NO_REDACTION = "redaction off (--no-redact): credentials in telemetry are stored as sent"
