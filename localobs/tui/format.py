"""Short, fixed-width renderings of durations, token counts and times for tables and headers.

Missing values read "—" (not reported), never 0: a producer that does not report usage is not a
call that used no tokens. Sent text (names, messages, attributes) goes through `name`, `cell`,
`preview_cell` or `shown`: no control character or markup gets through (localobs.literal).
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from rich.style import Style
from rich.text import Text
from textual.content import Content

from localobs.literal import literal, pieces, visible

MISSING = "—"


def duration(ms: float | None) -> str:
    if ms is None:
        return MISSING
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}m{seconds:02d}s"


def count(n: int | None) -> str:
    """A count in at most 5 characters: 999, 12.3k, 4.56M."""
    if n is None:
        return MISSING
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k" if n < 100_000 else f"{n // 1000}k"
    return f"{n / 1_000_000:.2f}M"


def count_or_estimate(reported: int | None, estimate: int | None = None) -> str:
    """A reported count, else an estimate marked `~` (store/token_estimate.py), else MISSING."""
    if reported is None and estimate is not None:
        return f"~{count(estimate)}"
    return count(reported)


def tokens_in_out(
    input_tokens: int | None,
    output_tokens: int | None,
    input_estimate: int | None = None,
    output_estimate: int | None = None,
) -> str:
    """`120→48`; a count nobody reported shows its estimate as `~48`."""
    return (
        f"{count_or_estimate(input_tokens, input_estimate)}"
        f"→{count_or_estimate(output_tokens, output_estimate)}"
    )


def data_size(size: int) -> str:
    """Bytes of data a message part held: 512 B, 12.3 KiB, 4.0 MiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def cached(read: int, write: int) -> str:
    """Cache tokens after the input tokens that include them (empty when none were reported)."""
    if not read and not write:
        return ""
    return f" (cache {count(read)} read, {count(write)} write)"


def rate(tokens_per_s: float | None) -> str:
    if tokens_per_s is None:
        return MISSING
    return f"{tokens_per_s:.1f}" if tokens_per_s < 100 else f"{tokens_per_s:.0f}"


def speed(tokens_per_s: float | None, is_decode: bool) -> str:
    """A call's tokens per second; "~" marks end-to-end throughput (prefill included), which
    reads far lower than decode speed (call_speed.py)."""
    shown = rate(tokens_per_s)
    return shown if is_decode or tokens_per_s is None else f"~{shown}"


def percent(share: float | None) -> str:
    return MISSING if share is None else f"{share * 100:.0f}%"


def clock_time(unix_nano: int, tz: tzinfo | None = None) -> str:
    """Wall-clock time of day (HH:MM:SS) in `tz`, the local zone when None."""
    return datetime.fromtimestamp(unix_nano / 1e9, tz).strftime("%H:%M:%S")


def timestamp(unix_nano: int, tz: tzinfo | None = None) -> str:
    return datetime.fromtimestamp(unix_nano / 1e9, tz).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


_BLANKS = re.compile("[ \t\r\n]+")


def name(text: str | None, width: int | None = None) -> str:
    """A sent name (service, model, span, attribute) on one line: a line break in it shows as an
    escape too, so two different names never look alike."""
    return visible(text or "", width=width)


def cell(text: str | None, width: int, style: str | Style = "") -> Text:
    """A table cell of a sent name: as `name`, with its escapes highlighted."""
    return literal(text or "", style, width=width)


def preview_cell(text: str | None, width: int) -> Text:
    """A message preview: runs of spaces and line breaks become one space, then as `cell`."""
    return cell(_BLANKS.sub(" ", text or "").strip(), width)


def shown(
    text: str | None, style: str = "", *, newlines: bool = False, width: int | None = None
) -> Content:
    """Sent text as Content, exactly as sent: markup is not parsed, escapes stand out."""
    parts = [
        (piece, "reverse") if escaped else piece
        for piece, escaped in pieces(text or "", newlines=newlines, width=width)
    ]
    content = Content.assemble(*parts)
    return content.stylize_before(style) if style else content


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells filled to `fraction`, in eighths for a smooth edge."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rest] if rest else ""
    return ("█" * full + partial).ljust(width)
