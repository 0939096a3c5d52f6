"""The documentation against the code: the README's command and key tables, and docs/schema.md.

Each check fails when one side changes without the other: a command or an option added but not
documented, a key rebound, a column added in a migration without its line in the schema doc.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import click
from textual.binding import Binding
from textual.keys import format_key

from localobs.cli import main
from localobs.store.database import prepare_database
from localobs.tui.app import LocalobsApp

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SCHEMA_DOC = (ROOT / "docs" / "schema.md").read_text()


def table_rows(section: str) -> list[str]:
    """The first column of the table under the README heading `section`."""
    body = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [line.split(" | ")[0] for line in body.splitlines() if line.startswith("| `")]


def test_every_command_and_option_is_in_the_readme_and_nothing_else() -> None:
    documented = " ".join(table_rows("Commands"))
    named = set(re.findall(r"`localobs (\w+)", documented))
    assert named == set(main.commands)
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                shown = any(re.search(rf"{opt}\b", documented) for opt in param.opts)
                assert shown, f"localobs {name} {param.opts[0]} is not in the README"


def test_every_key_in_the_readme_is_bound_and_every_screen_key_is_there() -> None:
    app = LocalobsApp(lambda: sqlite3.connect(":memory:"))
    bound = {
        format_key(binding.key)
        for _title, bindings in app.key_sections()
        for binding in bindings
        if isinstance(binding, Binding)
    }
    keys_column = " ".join(table_rows("The viewer"))
    documented = set(re.findall(r"`([^`]+)`", keys_column))
    aliases = {"enter": "⏎", "escape": "esc"}
    assert {aliases.get(key, key) for key in documented} <= bound | {"ctrl+p"}
    described = {
        format_key(binding.key)
        for title, bindings in app.key_sections()
        for binding in bindings
        if isinstance(binding, Binding) and binding.description and binding.show
    }
    viewer_section = README.split("\n## The viewer\n", 1)[1].split("\n## ", 1)[0]
    for key in described - {"⏎", "esc", "q", "?"}:
        assert f"`{key}`" in viewer_section, f"the key {key!r} is not in the README's viewer table"


def test_every_column_of_every_table_is_in_the_schema_doc(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    prepare_database(db)
    conn = sqlite3.connect(db)
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts_%'"
        )
    ]
    # FTS5's own shadow tables (`llm_call_text_data`, ...) belong to their virtual table.
    virtual = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE sql LIKE 'CREATE VIRTUAL%'"
        )
    ]
    tables = [t for t in tables if not any(t.startswith(f"{v}_") for v in virtual)]
    # Named somewhere: `table`, `column`, or in a list such as `table(a, b, c)`.
    words = set(re.findall(r"\w+", SCHEMA_DOC))
    missing = [table for table in tables if table not in words]
    for table in tables:
        for (column,) in conn.execute(f"SELECT name FROM pragma_table_info('{table}')"):
            if column not in words:
                missing.append(f"{table}.{column}")
    assert not missing, f"not in docs/schema.md: {missing}"
