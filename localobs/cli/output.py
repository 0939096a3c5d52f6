"""How the CLI prints: aligned tables, durations, numbers, times and JSON, in one place."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from localobs.literal import json_text

_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$", re.IGNORECASE)
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> float | None:
    """`5m`, `1h`, `30s`, `2d` to seconds; `all` to None (all time)."""
    if text.strip().lower() == "all":
        return None
    match = _WINDOW.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a window such as 5m, 1h, 2d or all")
    return float(match.group(1)) * _WINDOW_UNITS[match.group(2).lower()]


def echo_json(value: Any) -> None:
    click.echo(json_text(value))


def timestamp(unix_nano: int) -> str:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 3_600_000:
        return f"{value / 3_600_000:,.1f} h"
    if value >= 60_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def number(value: float | int | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> None:
    """Columns aligned to their widest cell; the last column is left unpadded."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        click.echo("  ".join([*cells, row[-1]]).rstrip())
