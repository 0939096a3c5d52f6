"""The LLM-call part of a span row: its field order and the value coercions every dialect shares.

The receiver appends `normalize_span`'s tuple to the span row as is, so the order here must be the
tail of `SPAN_COLUMNS` (a test checks it). Coercions keep one bad value (a token count sent as a
string, a NaN temperature) from landing in a typed column or failing the whole row.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from localobs.store.schema import SPAN_COLUMNS

# The GenAI tail of a span row, in the order of the store's columns.
CALL_FIELDS: tuple[str, ...] = SPAN_COLUMNS[SPAN_COLUMNS.index("span_role") :]

Call = tuple[Any, ...]


def dumps(value: Any) -> str:
    """Compact UTF-8 JSON text: non-ASCII stays readable, so free-text search finds it."""
    return orjson.dumps(value).decode()


class TooDeep(ValueError):
    """JSON parsed from an attribute is nested too deep to write back (orjson reads 1024 levels
    but writes only 254) or to turn into text (past Python's recursion limit). The content then
    keeps the attribute's own text."""


def dumps_parsed(value: Any) -> str:
    """`dumps` of content parsed from attribute text; raises TooDeep (orjson's only TypeError for
    parsed JSON) instead of failing the span."""
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        raise TooDeep(str(exc)) from exc


# No call uses a trillion tokens: a count above this is no usage figure (it stays in the span's
# attributes). The cap also keeps sums over millions of calls inside SQLite's 64-bit integers.
MAX_COUNT = 1 << 40


def as_count(value: Any) -> int | None:
    """A token count or limit: a whole number in [0, MAX_COUNT], from an int, an integral float or
    a string of ASCII digits (as some libraries send it); None for anything else."""
    if type(value) is int:
        return value if 0 <= value <= MAX_COUNT else None
    if type(value) is float and value.is_integer():
        return int(value) if 0 <= value <= MAX_COUNT else None
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 13:
        return as_count(int(value))
    return None


def as_float(value: Any) -> float | None:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int:
        return float(value)
    return None


def as_str(value: Any) -> str | None:
    return value if type(value) is str and value else None


def str_list(value: Any) -> str | None:
    """A JSON list of strings (finish reasons) from a list, a single string, or a list sent as
    one JSON string (Pydantic Logfire sends `'["stop"]'`, its attributes being JSON-encoded)."""
    if type(value) is list:
        items = [item for item in value if type(item) is str]
        return dumps(items) if items else None
    if type(value) is str and value:
        if value[0] == "[" and value[-1] == "]":
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                parsed = None
            if type(parsed) is list:
                return str_list(parsed)
        return dumps([value])
    return None
