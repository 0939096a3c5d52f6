"""The search mini-language of the calls list, parsed into the store's CallFilter.

`model:gpt-4o service:api error slow>2s since:10m "exact words" more words` — every term
narrows the list; the words left over are free text matched against prompts and completions.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from localobs.store.calls import CallFilter

_UNITS_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_SLOW = re.compile(r"^(?:slow|duration|dur)?>=?(.+)$")
_KEYS = {
    "model": "model",
    "service": "service",
    "svc": "service",
    "op": "operation",
    "operation": "operation",
    "since": "since",
}
_ERROR_WORDS = {"error", "errors", "is:error", "status:error"}

SYNTAX_HELP = (
    "model:NAME  service:NAME  op:chat  error  slow>2s  since:10m  free text (quote phrases)"
)


class SearchSyntaxError(ValueError):
    """A term that looks like a filter but cannot be read; the message says how to write it."""


def parse_duration_ms(text: str, default_unit: str = "ms") -> float:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise SearchSyntaxError(f"{text!r} is not a duration such as 500ms, 2s or 5m")
    return float(match.group(1)) * _UNITS_MS[match.group(2) or default_unit]


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        # An unbalanced quote: read the words as they are rather than refusing the search.
        return text.split()


def parse_search(text: str, clock: Callable[[], int]) -> CallFilter:
    """Read a search line into a filter; `clock` (unix nanos) anchors `since:` terms."""
    fields: dict[str, object] = {}
    free: list[str] = []
    for word in _words(text):
        lowered = word.lower()
        key, sep, value = word.partition(":")
        if lowered in _ERROR_WORDS:
            fields["errors_only"] = True
        elif slow := _SLOW.match(lowered):
            fields["min_duration_ms"] = parse_duration_ms(slow.group(1), default_unit="s")
        elif sep and key.lower() in _KEYS:
            if not value:
                raise SearchSyntaxError(f"{key}: needs a value, e.g. {key}:something")
            name = _KEYS[key.lower()]
            if name == "since":
                window_ns = int(parse_duration_ms(value, default_unit="m") * 1_000_000)
                fields["since_unix_nano"] = clock() - window_ns
            else:
                fields[name] = value
        else:
            free.append(word)
    if free:
        fields["text"] = " ".join(free)
    return CallFilter(**fields)  # type: ignore[arg-type]
