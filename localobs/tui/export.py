"""`e`: one call written as a JSON file the user can attach to a bug report or diff."""

from __future__ import annotations

from pathlib import Path

from localobs.literal import json_text
from localobs.private_files import private_opener
from localobs.store.calls import CallDetail


def call_json(detail: CallDetail) -> bytes:
    """The call as JSON in which no control character is raw: `cat` of the file is safe too."""
    return json_text(detail).encode()


def export_call(detail: CallDetail, directory: Path) -> Path:
    """Write `localobs-call-<id>.json` into `directory`, readable by the user only (it holds the
    call's prompts); returns the absolute path written."""
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / f"localobs-call-{detail.call_id}.json").resolve()
    with open(path, "wb", opener=private_opener) as out:
        out.write(call_json(detail) + b"\n")
    return path
