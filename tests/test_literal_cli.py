"""The CLI and exported files print sent text literally: no control character reaches stdout or
a file raw, and JSON reads back the exact text that was sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from localobs.store.calls import get_call, list_calls
from localobs.tui.export import export_call
from tests.conftest import RunningReceiver
from tests.hostile import (
    ANSWER,
    MODEL,
    NOTE,
    PROMPT,
    ROOT,
    SERVICE,
    SHOWN_ERROR,
    SHOWN_MODEL,
    SHOWN_PROMPT,
    SHOWN_ROOT,
    SHOWN_SERVICE,
    send_calls,
)


def localobs(db: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "localobs", *args, "--db", str(db)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    out = done.stdout.decode()
    raw = [char for char in out if (ord(char) < 0x20 and char != "\n") or 0x7F <= ord(char) <= 0x9F]
    assert not raw, f"`localobs {' '.join(args)}` printed control characters {raw}:\n{out}"
    return out


def test_calls_trace_and_spans_print_sent_text_escaped(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id = send_calls(receiver.url, monkeypatch)
    db = receiver.store.path

    shown = localobs(db, "calls")
    assert SHOWN_SERVICE in shown and SHOWN_MODEL in shown and SHOWN_PROMPT in shown
    assert f"ERROR {SHOWN_ERROR}" in shown

    shown = localobs(db, "trace", trace_id)
    assert f"*{SHOWN_ROOT}" in shown and f"chat {SHOWN_MODEL}" in shown
    assert SHOWN_SERVICE in shown

    shown = localobs(db, "spans")
    assert SHOWN_ROOT in shown and f"{SHOWN_SERVICE}  chat {SHOWN_MODEL}" in shown

    shown = localobs(db, "stats")
    assert SHOWN_MODEL in shown and SHOWN_ROOT in shown

    # JSON: escaped by JSON's own rules (\u001b, \u009b), read back exactly as sent.
    calls = orjson.loads(localobs(db, "calls", "--json"))
    assert {call["model"] for call in calls} >= {MODEL}
    assert {call["service_name"] for call in calls} >= {SERVICE}
    assert {call["error_type"] for call in calls} >= {"Boom[red]e[/]\x1b[2J"}
    assert {call["preview"] for call in calls} >= {" ".join(PROMPT.split())}
    tree = orjson.loads(localobs(db, "trace", trace_id, "--json"))
    assert {span["name"] for span in tree["spans"]} == {ROOT, f"chat {MODEL}"}
    spans = orjson.loads(localobs(db, "spans", "--json"))
    assert NOTE in [span["attributes"].get("app.note") for span in spans]


def test_an_exported_call_has_no_raw_control_character_and_reads_back_equal(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    send_calls(receiver.url, monkeypatch)
    conn = receiver.store.reader()
    try:
        hostile = next(c for c in list_calls(conn) if c.error_type is None and c.model == MODEL)
        detail = get_call(conn, hostile.call_id)
    finally:
        conn.close()
    assert detail is not None
    written = export_call(detail, tmp_path).read_bytes()
    text = written.decode()
    assert not [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]
    assert "\\u001b[2J" in text and "\\u009b31m" in text
    data = orjson.loads(written)
    assert data["attributes"]["app.note"] == NOTE
    assert data["input_messages"][0]["parts"][0]["content"] == PROMPT
    assert data["output_messages"][0]["parts"][0]["content"] == ANSWER
