"""Sent text never drives the terminal: the real `localobs view` in tmux, on calls whose prompt,
completion, model, service, span names, error and attributes hold a clear-screen sequence, Rich
markup and a one-character C1 CSI. Every screen that shows them must show them as typed.

The calls are sent by the real OpenTelemetry SDK to the real receiver; one viewer process visits
each screen in turn (a few seconds in all).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningReceiver
from tests.hostile import (
    SHOWN_ANSWER,
    SHOWN_ERROR,
    SHOWN_MODEL,
    SHOWN_NOTE_JSON,
    SHOWN_PROMPT,
    SHOWN_ROOT,
    SHOWN_SERVICE,
    send_calls,
)
from tests.tmux_terminal import Tmux, exit_code

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

REPO = Path(__file__).resolve().parent.parent


def typed(text: str, shown: str) -> bool:
    """`text` is in the search box's input line (▊ is its left border)."""
    return any("▊" in line and text in line for line in shown.splitlines())


def assert_nothing_ran(tmux: Tmux, shown: str) -> None:
    """What was drawn before the sent text (the screen's first line) is still there, as is the
    footer drawn after it: an erase would have wiped the one, a cursor move misplaced the other.
    No sent control sequence reached the terminal's cells as a style, and the escapes stand out
    (reverse video) from text that merely looks like one."""
    assert shown.splitlines()[0].strip(), shown
    tmux.wait_for(lambda s: "Quit" in s.rstrip().splitlines()[-1])
    styled = tmux.screen_with_styles()
    assert "\x9b" not in styled and "\x1b[31m" not in styled
    assert "\x1b[7m\\x1b" in styled


def test_every_screen_shows_sent_text_literally(
    tmux: Tmux, tmp_path: Path, receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_calls(receiver.url, monkeypatch)
    exit_file = tmp_path / "exit-code"
    command = (
        f"env -u COLUMNS -u LINES COLORTERM=truecolor {sys.executable} -m localobs view"
        f" --db {receiver.store.path}; echo $? > {exit_file}; sleep 30"
    )
    tmux.run(
        "new-session", "-d", "-s", tmux.session, "-x", "200", "-y", "50", "-c", str(REPO), command
    )

    # The calls table (newest first: the failed call, the hostile one, the benign one).
    shown = tmux.wait_for(lambda s: "a benign question" in s and SHOWN_PROMPT in s)
    assert SHOWN_SERVICE in shown and SHOWN_MODEL in shown
    assert shown.splitlines()[1].strip().startswith(SHOWN_MODEL)  # the totals' per-model line
    assert f"{SHOWN_ERROR} {SHOWN_PROMPT}" in shown  # the failed call's error, then its prompt
    assert_nothing_ran(tmux, shown)

    # Search results: the hostile calls match, the benign one is gone.
    tmux.keys("/")
    tmux.wait_for(lambda s: "Search calls" in s)
    tmux.keys("-l", "AFTER")
    tmux.wait_for(lambda s: typed("AFTER", s))
    tmux.keys("Enter")
    shown = tmux.wait_for(lambda s: "search: AFTER" in s and "a benign question" not in s)
    assert shown.count(SHOWN_PROMPT) == 2 and SHOWN_MODEL in shown
    assert_nothing_ran(tmux, shown)
    # A search that matches nothing is echoed as typed by the empty state.
    tmux.keys("/")
    tmux.wait_for(lambda s: typed("AFTER", s))
    tmux.keys("C-u")
    tmux.wait_for(lambda s: typed("free text, model:", s))  # the placeholder: the input is empty
    tmux.keys("-l", "[b]nomatch[/b]")
    tmux.wait_for(lambda s: typed("[b]nomatch[/b]", s))
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "No calls match [b]nomatch[/b]" in s)
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "a benign question" in s)

    # Compare: mark the failed call (top), select the hostile one below it, press =.
    tmux.keys("m")
    tmux.keys("Down")
    tmux.keys("=")
    # Until the answer is drawn too: a capture can catch a frame being written, half painted.
    shown = tmux.wait_for(lambda s: "only in B" in s and f"+ {SHOWN_ANSWER}" in s)
    assert SHOWN_MODEL in shown and SHOWN_SERVICE in shown and SHOWN_ERROR in shown
    assert f"  {SHOWN_PROMPT}" in shown  # both have the prompt
    assert_nothing_ran(tmux, shown)
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "a benign question" in s)

    # Call detail: the title, the transcript, the parameters and, with `a`, the raw attributes.
    tmux.keys("Enter")
    shown = tmux.wait_for(lambda s: SHOWN_ANSWER in s)
    assert SHOWN_PROMPT in shown and SHOWN_SERVICE in shown
    assert shown.splitlines()[0].strip().startswith(f"{SHOWN_MODEL} · chat · {SHOWN_SERVICE}")
    assert f"request model     {SHOWN_MODEL}" in shown  # the parameters
    assert f"span              chat {SHOWN_MODEL} (" in shown  # the identity
    assert_nothing_ran(tmux, shown)
    tmux.keys("a")
    tmux.wait_for(lambda s: "Raw attributes" in s)
    tmux.keys("End")
    shown = tmux.wait_for(lambda s: SHOWN_NOTE_JSON in s)
    assert_nothing_ran(tmux, shown)

    # The trace: the waterfall and the selected span's details.
    tmux.keys("t")
    shown = tmux.wait_for(lambda s: SHOWN_ROOT in s and "critical path" in s)
    assert f"chat {SHOWN_MODEL}" in shown and SHOWN_SERVICE in shown
    # The selected span (the call) in detail below the waterfall.
    assert f"service {SHOWN_SERVICE}" in shown and f"chat {SHOWN_MODEL} 40→12 tokens" in shown
    assert_nothing_ran(tmux, shown)

    # Components: span names and models.
    tmux.keys("Escape", "Escape")
    tmux.wait_for(lambda s: "a benign question" in s)
    tmux.keys("c")
    shown = tmux.wait_for(lambda s: "Components" in s and SHOWN_ROOT in s)
    assert f"chat {SHOWN_MODEL}" in shown and shown.count(SHOWN_MODEL) >= 2
    assert_nothing_ran(tmux, shown)

    tmux.keys("q")
    assert exit_code(exit_file) == "0"
