"""The searchable text of stored calls, read from their content references.

Folding a call into the text index needs the strings of its messages. Expanding the references
in SQL and walking every message's JSON again costs the writer more per call than storing it
(measured: about 20 of 35 us per span of the fold), while most of that content repeats (the
system prompt, the history re-sent by every turn). So the strings of each content are extracted
once and kept by content id: a call's text is the join of its contents' texts, which tokenizes
exactly as the whole column's text would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import orjson

from localobs.store.contents import content_generation, content_ids
from localobs.store.text_search import message_text

# The cache is cleared whole past this many characters (the writer's memory counts towards the
# process's budget); the next chunk then reads what it needs again.
_CACHE_CHARS = 4_000_000


class CallTexts:
    """Contents' extracted text by id, for the writer's fold and retention's unfold."""

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}
        self._chars = 0
        self._generation = -1

    def load(self, conn: sqlite3.Connection, values: Iterable[object]) -> None:
        """Read the contents these stored column values refer to that are not cached yet (one
        query). Call it before `text` for the rows at hand, inside their transaction."""
        generation = content_generation(conn)
        if generation != self._generation:  # contents were deleted: ids may be reused
            self._texts.clear()
            self._chars = 0
            self._generation = generation
        missing = {
            content
            for value in values
            if type(value) is bytes
            for content in content_ids(value)
            if content not in self._texts
        }
        if not missing:
            return
        if self._chars > _CACHE_CHARS:
            self._texts.clear()
            self._chars = 0
        found = conn.execute(
            "SELECT id, text FROM contents WHERE id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(sorted(missing)).decode(),),
        )
        for content, text in found:
            extracted = message_text(text)
            self._texts[content] = extracted
            self._chars += len(extracted)

    def text(self, *columns: object) -> str:
        """The searchable text of a call's message columns as stored (references or TEXT)."""
        parts: list[str] = []
        for value in columns:
            if type(value) is bytes:
                parts.extend(self._texts.get(content, "") for content in content_ids(value))
            elif type(value) is str:
                parts.append(message_text(value))
        return "\n".join(part for part in parts if part)
