"""Calls whose every sent text is hostile to a terminal, and how each must be shown.

The prompt, completion, model, service, span names, error and an attribute hold a clear-screen
sequence, Rich markup and a one-character C1 CSI; they are sent by the real OpenTelemetry SDK.
"""

from __future__ import annotations

import pytest

from tests.tui_sdk import chat_call, sdk_tracer

CLEAR = "\x1b[2J\x1b[H"  # erase the screen, cursor home
C1_CSI = "\x9b31m"  # CSI as one C1 character: red
SERVICE = "svc\x1b[2J"
MODEL = "m\x9b31m[b]"
ROOT = "turn\x1b[2J[i]r[/i]"
PROMPT = f"BEFORE {CLEAR} [bold red]x[/] {C1_CSI} AFTER"
ANSWER = f"ANSWER {CLEAR} [bold red]y[/] {C1_CSI} END"
NOTE = f"NOTE{CLEAR}[bold]n[/]{C1_CSI}"
ERROR = "Boom[red]e[/]\x1b[2J"

# How each is shown: the escapes written out, the markup as typed.
SHOWN_SERVICE = "svc\\x1b[2J"
SHOWN_MODEL = "m\\x9b31m[b]"
SHOWN_ROOT = "turn\\x1b[2J[i]r[/i]"
SHOWN_PROMPT = "BEFORE \\x1b[2J\\x1b[H [bold red]x[/] \\x9b31m AFTER"
SHOWN_ANSWER = "ANSWER \\x1b[2J\\x1b[H [bold red]y[/] \\x9b31m END"
SHOWN_ERROR = "Boom[red]e[/]\\x1b[2J"
SHOWN_NOTE_JSON = '"app.note": "NOTE\\u001b[2J\\u001b[H[bold]n[/]\\u009b31m"'


def send_calls(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A benign call, then the hostile one inside a hostile root span, then a failed one;
    returns the hostile trace's id."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    with sdk_tracer("benign-app") as tracer:
        chat_call(tracer, "a benign question", "a benign answer")
    with sdk_tracer(SERVICE) as tracer:
        with tracer.start_as_current_span(ROOT):
            trace_id = chat_call(tracer, PROMPT, ANSWER, model=MODEL, attributes={"app.note": NOTE})
        chat_call(tracer, PROMPT, "", model=MODEL, error=ERROR)
    return trace_id
