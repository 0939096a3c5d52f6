"""Sent text is shown literally: control characters as visible escapes, markup as typed."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from rich.console import Console

from localobs.literal import ESCAPE_STYLE, json_text, literal, visible

CLEAR_SCREEN = "\x1b[2J\x1b[H"
MARKUP = "[bold red]x[/]"
C1_CSI = "\x9b31m"
OSC8_LINK = "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (f"before{CLEAR_SCREEN}after", "before\\x1b[2J\\x1b[Hafter"),
        (C1_CSI, "\\x9b31m"),
        ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
        ("\x80\x85\x9f", "\\x80\\x85\\x9f"),
        (OSC8_LINK, "\\x1b]8;;http://evil.example\\x1b\\click\\x1b]8;;\\x1b\\"),
        ("user\u202eevil\u2066x\u2069", "user\\u202eevil\\u2066x\\u2069"),
        ("line\u2028split", "line\\u2028split"),
        ("lone\ud800surrogate", "lone\\ud800surrogate"),
        ("two\nlines\tand\rtab", "two\\nlines\\tand\\rtab"),
        (MARKUP, MARKUP),
        ("plain naïve 日本語 emoji 🙂", "plain naïve 日本語 emoji 🙂"),
        ("", ""),
    ],
)
def test_visible_writes_every_control_character_as_an_escape(sent: str, shown: str) -> None:
    assert visible(sent) == shown


def test_newlines_keep_the_layout_of_multiline_text_and_nothing_else() -> None:
    sent = f"first\r\nsecond\tcol\rx{CLEAR_SCREEN}"
    assert visible(sent, newlines=True) == "first\nsecond\tcol\\rx\\x1b[2J\\x1b[H"


@pytest.mark.parametrize(
    ("sent", "width", "shown"),
    [
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abcde…"),
        ("abcd\x1bxyz", 6, "abcd…"),  # no half escape (`\x1`) before the ellipsis
        ("ab\x1bxyz", 8, "ab\\x1bx…"),
        ("\x1b\x1b", 4, "…"),
    ],
)
def test_width_cuts_with_an_ellipsis_never_inside_an_escape(
    sent: str, width: int, shown: str
) -> None:
    assert visible(sent, width=width) == shown
    assert len(visible(sent, width=width)) <= width


def test_literal_text_is_never_markup_and_its_escapes_stand_out() -> None:
    text = literal(f"{MARKUP} {CLEAR_SCREEN}", "bold")
    assert text.plain == "[bold red]x[/] \\x1b[2J\\x1b[H"
    escapes = [text.plain[span.start : span.end] for span in text.spans]
    assert escapes == ["\\x1b", "\\x1b"]
    assert all(span.style == ESCAPE_STYLE for span in text.spans)


def test_rendered_literal_writes_no_control_character_to_the_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=200)
    console.print(literal(f"before {CLEAR_SCREEN}{C1_CSI}{OSC8_LINK}\x07 {MARKUP} after"))
    written = out.getvalue()
    # Only Rich's own SGR sequences (ESC [ ... m) remain; none of the sent ones.
    without_sgr = re.sub(r"\x1b\[[0-9;]*m", "", written)
    assert without_sgr == (
        "before \\x1b[2J\\x1b[H\\x9b31m\\x1b]8;;http://evil.example\\x1b\\click"
        "\\x1b]8;;\\x1b\\\\x07 [bold red]x[/] after\n"
    )
    assert "\x9b" not in written and "\x07" not in written


def test_json_text_has_no_raw_control_character_and_reads_back_equal() -> None:
    value = {"prompt": f"a{CLEAR_SCREEN}{C1_CSI}\x7f\u202e{MARKUP}", f"key{CLEAR_SCREEN}": [1.5]}
    text = json_text(value)
    assert not any(ord(char) < 0x20 and char != "\n" for char in text)
    assert not any(0x7F <= ord(char) <= 0x9F or char == "\u202e" for char in text)
    assert "\\u001b[2J" in text and "\\u009b31m" in text and "\\u007f" in text
    assert orjson.loads(text) == value
    assert orjson.loads(json_text(value, indent=False)) == value
