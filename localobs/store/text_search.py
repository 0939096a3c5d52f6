"""Free text over prompts and completions: what is indexed, how a search is read, how it matches.

A search matches a call when every word of it starts a word of the call's system instructions,
input or output messages (case and accents ignored). Calls already folded into the full-text
index (`llm_call_text`, FTS5) are found there; calls stored since are checked here, in Python,
with the same rule, so a search never misses the newest calls.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

import orjson

# Letters and digits, as FTS5's unicode61 tokenizer splits text into words.
_WORD = re.compile(r"[^\W_]+")
# Keys of the message shape whose strings are structure, not content.
_STRUCTURAL_KEYS = frozenset({"role", "type", "id", "finish_reason", "modality", "mime_type"})
MATCH_FUNCTION = "localobs_text_matches"


# Combining marks of the blocks that carry Latin, Greek and Cyrillic accents, for str.translate.
_DROP_MARKS = {
    point: None
    for low, high in ((0x300, 0x370), (0x1AB0, 0x1B00), (0x1DC0, 0x1E00), (0x20D0, 0x2100))
    for point in range(low, high)
    if unicodedata.combining(chr(point))
}


def fold(text: str) -> str:
    """Lower case without accents, as FTS5's `remove_diacritics 2` compares words."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    return unicodedata.normalize("NFKD", lowered).translate(_DROP_MARKS)


def search_terms(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))


def fts_query(terms: tuple[str, ...]) -> str:
    """An FTS5 query: every term as a word prefix. Terms hold only letters and digits."""
    return " AND ".join(f'"{term}"*' for term in terms)


def _strings(document: Any, out: list[str]) -> None:
    """Every string of the document in order. A loop, not recursion: stored content can be nested
    as deep as orjson reads (1024 levels), past Python's recursion limit, and this runs in the
    writer's fold."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            pending.extend(reversed(value))
        elif isinstance(value, dict):
            pending.extend(
                item for key, item in reversed(value.items()) if key not in _STRUCTURAL_KEYS
            )


def column_strings(column: str | None, out: list[str]) -> Any:
    """Append every content string of one message column (JSON; text that is not JSON counts
    as one string) to `out`; returns the parsed document (None when absent or not JSON)."""
    if not column:
        return None
    try:
        document = orjson.loads(column)
    except orjson.JSONDecodeError:
        out.append(column)
        return None
    _strings(document, out)
    return document


def message_text(*columns: str | None) -> str:
    """The searchable text of a call: every content string of its message columns (JSON)."""
    out: list[str] = []
    for column in columns:
        column_strings(column, out)
    return "\n".join(out)


def text_matches(terms: tuple[str, ...], text: str) -> bool:
    folded = fold(text)
    if not all(term in folded for term in terms):
        return False
    words = set(_WORD.findall(folded))
    return all(any(word.startswith(term) for word in words) for term in terms)


def _sql_matches(terms: str, *columns: str | None) -> int:
    return int(text_matches(tuple(terms.split()), message_text(*columns)))


def register_match_function(conn: sqlite3.Connection) -> None:
    """`localobs_text_matches(terms, input, output, system)` on this connection; `terms` is
    `search_terms(...)` joined by spaces."""
    conn.create_function(MATCH_FUNCTION, 4, _sql_matches, deterministic=True)
