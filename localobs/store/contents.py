"""Message content stored once: the three message columns of a call refer to `contents` rows.

Turn N of a chat re-sends turns 1..N-1, and the system prompt comes with every call: stored as
sent, a long conversation costs O(N²) bytes. The writer therefore splits each message column (a
JSON list) into its elements, stores each distinct element once in `contents` (keyed by a 128-bit
BLAKE2b digest of its text) and puts a reference list in the column instead: a BLOB holding the
JSON `[separator, id, id, ...]`. The split keeps the text exactly (elements are the original
substrings, rejoined with the separator that was between them), because export must rebuild the
attribute the sender sent byte for byte. A value that is not a list with one separator is stored
whole as one content (the BLOB then holds just its id). Rows written before this existed keep
their plain TEXT; `expand_sql` and `expand` read both.

`refs` counts the column values that use a content; retention releases what it deletes and
rows no longer used are deleted with it.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from localobs.store.typed_attributes import typed_sql

MESSAGE_COLUMNS = ("input_messages", "output_messages", "system_instructions")
# Tokens that matter for finding a JSON list's top-level elements: strings (with escapes) and
# brackets and commas outside them.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_CACHE_LIMIT = 100_000


def expand_sql(column: str) -> str:
    """SQL giving a message column's JSON text back, from references or a plain TEXT value."""
    refs = f"CAST({column} AS TEXT)"
    return (
        f"CASE WHEN typeof({column}) != 'blob' THEN {column}"
        f" WHEN json_type({refs}) = 'integer'"
        f" THEN (SELECT text FROM contents WHERE id = CAST({refs} AS INTEGER))"
        f" ELSE (SELECT '[' || group_concat(part, json_extract({refs}, '$[0]')) || ']'"
        f" FROM (SELECT c.text AS part FROM json_each({refs}) AS j"
        " JOIN contents AS c ON c.id = j.value WHERE j.key > 0 ORDER BY j.key))"
        " END"
    )


# Span attributes whose string value repeats on every call of an app (tool definitions, ~2 KB
# each): stored in `contents` too. The attributes JSON then holds the content id in the value's
# place and lists the keys so stored under SHARED_MARK.
SHARED_ATTRIBUTES = ("gen_ai.tool.definitions",)
SHARED_MARK = "localobs.contents"
_SHARED_MIN = 256
_MARK_PATH = f"'$.\"{SHARED_MARK}\"'"
_TOOLS_PATH = f"'$.\"{SHARED_ATTRIBUTES[0]}\"'"


def attributes_sql(column: str = "attributes") -> str:
    """SQL giving a span's attributes JSON back with its shared and typed values in place."""
    shared = (
        f"CASE WHEN json_type({column}, {_MARK_PATH}) IS NULL THEN {column}"
        f" ELSE json_remove(json_set({column}, {_TOOLS_PATH}, (SELECT text FROM contents"
        f" WHERE id = json_extract({column}, {_TOOLS_PATH}))), {_MARK_PATH}) END"
    )
    return typed_sql(column, shared)


# Bookkeeping of normalization (where moved content went), not sent data: not shown.
INTERNAL_ATTRIBUTES = ("localobs.moved",)


def shown_attributes(text: str | None) -> dict[str, Any]:
    """A span's attributes (as `attributes_sql` gives them) to show: without INTERNAL_ATTRIBUTES,
    whichever form of them the row was stored with."""
    try:
        attributes = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}
    if type(attributes) is not dict:
        return {}
    for key in INTERNAL_ATTRIBUTES:
        attributes.pop(key, None)
    return attributes


def shared_ids_sql(column: str = "attributes") -> str:
    """SQL giving the content id a span's attributes refer to, or NULL."""
    return (
        f"CASE WHEN json_type({column}, {_MARK_PATH}) IS NOT NULL"
        f" THEN json_extract({column}, {_TOOLS_PATH}) END"
    )


# The three columns' text, in MESSAGE_COLUMNS order, for a SELECT list.
MESSAGES_SQL = ", ".join(expand_sql(column) for column in MESSAGE_COLUMNS)


def split_list(text: str) -> tuple[str, list[str]] | None:
    """(separator, elements) of a JSON list written `[e1<sep>e2<sep>...]`, the elements as
    their exact substrings; None for anything else (not a list, uneven separators, empty)."""
    if not text.startswith("[") or not text.endswith("]"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if type(value) is not list or not value:
        return None
    if len(value) == 1:  # the common case: the element is all that is inside the brackets
        inside = text[1:-1]
        return (",", [inside]) if inside == inside.strip() else None
    depth = 0
    cuts = []  # offsets of the top-level commas
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
        elif token in "]}":
            depth -= 1
            if depth < 0:
                return None
        elif token == "," and depth == 1:
            cuts.append(match.start())
    if depth != 0:
        return None
    bounds = [0, *cuts, len(text) - 1]
    pieces = [text[bounds[i] + 1 : bounds[i + 1]] for i in range(len(bounds) - 1)]
    if not pieces[0].strip():
        return None  # "[]" or not a list of elements
    # Whitespace after a comma belongs to the separator; it must be the same everywhere.
    seps = {piece[: len(piece) - len(piece.lstrip())] for piece in pieces[1:]}
    if len(seps) > 1 or pieces[0] != pieces[0].lstrip() or pieces[-1] != pieces[-1].rstrip():
        return None
    sep = "," + (seps.pop() if seps else "")
    elements = [pieces[0], *(piece[len(sep) - 1 :] for piece in pieces[1:])]
    if sep.join(elements) != text[1:-1]:
        return None
    return sep, elements


class ContentWriter:
    """The writer process's side: turns message column values into references, inserting the
    contents it has not seen. Counts are applied by `flush()`, once per batch.

    Ids of known digests are cached. Contents are deleted only by `release` (retention, here or
    in `localobs prune`), which bumps a generation number: `begin()` drops the cache when it
    changed, so a reference never points at a deleted row.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._ids: dict[bytes, int] = {}
        self._columns: dict[str, tuple[bytes, list[int]]] = {}  # whole column texts seen
        self._uses: Counter[int] = Counter()
        self._generation = -1

    def begin(self) -> None:
        """At the start of a batch (inside its transaction)."""
        generation = content_generation(self._conn)
        if generation != self._generation:
            self._ids.clear()
            self._columns.clear()
            self._generation = generation

    def _id(self, text: str) -> int:
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        known = self._ids.get(digest)
        if known is None:
            # New content is the common miss (an answer): one statement, inserted with this
            # use counted (no update at flush); a lookup only if it was there.
            row = self._conn.execute(
                "INSERT INTO contents (digest, refs, text) VALUES (?, 1, ?)"
                " ON CONFLICT (digest) DO NOTHING RETURNING id",
                (digest, text),
            ).fetchone()
            if row is None:
                row = self._conn.execute(
                    "SELECT id FROM contents WHERE digest = ?", (digest,)
                ).fetchone()
                self._uses[int(row[0])] += 1
            known = int(row[0])
            if len(self._ids) >= _CACHE_LIMIT:
                self._ids.clear()
            self._ids[digest] = known
            return known
        self._uses[known] += 1
        return known

    def encode(self, value: str | None) -> bytes | None:
        """The reference BLOB that stands for `value` (a message column's JSON text)."""
        if value is None:
            return None
        known = self._columns.get(value)
        if known is not None:  # the same column text again (a system prompt): no parsing
            refs, ids = known
            uses = self._uses
            for content in ids:
                uses[content] += 1
            return refs
        split = split_list(value)
        if split is None:
            ids = [self._id(value)]
            refs = str(ids[0]).encode()
        else:
            sep, elements = split
            ids = [self._id(element) for element in elements]
            refs = orjson.dumps([sep, *ids])
        if len(self._columns) >= _CACHE_LIMIT // 10:
            self._columns.clear()
        self._columns[value] = (refs, ids)
        return refs

    def encode_attributes(self, text: str) -> str:
        """A span's attributes JSON with its SHARED_ATTRIBUTES values as content ids."""
        if f'"{SHARED_ATTRIBUTES[0]}"' not in text:
            return text
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text  # an integer beyond 64 bits: kept as it is
        shared = [
            key
            for key in SHARED_ATTRIBUTES
            if type(value.get(key)) is str and len(value[key]) >= _SHARED_MIN
        ]
        if not shared or SHARED_MARK in value:
            return text
        for key in shared:
            value[key] = self._id(value[key])
        value[SHARED_MARK] = shared
        return orjson.dumps(value).decode()

    def unuse(self, values: Iterable[object]) -> None:
        """References `encode` made for rows that were not stored after all."""
        for value in values:
            self._uses.subtract(content_ids(value))

    def flush(self) -> None:
        """Record this batch's uses (inside its transaction)."""
        if self._uses:
            self._conn.executemany(
                "UPDATE contents SET refs = refs + ? WHERE id = ?",
                [(count, content) for content, count in self._uses.items() if count],
            )
            self._uses.clear()

    def forget(self) -> None:
        """After a rollback, or a `release` that deleted contents: cached ids may be gone."""
        self._ids.clear()
        self._columns.clear()
        self._uses.clear()
        self._generation = -1


def shared_ids(attributes: str | None) -> list[int]:
    """The content ids a stored attributes JSON refers to."""
    if not attributes or f'"{SHARED_MARK}"' not in attributes:
        return []
    value = orjson.loads(attributes)
    return [value[key] for key in value.get(SHARED_MARK, ()) if type(value.get(key)) is int]


def content_ids(value: object) -> list[int]:
    """The content ids a stored message column value (or a shared attribute id) refers to."""
    if isinstance(value, int):
        return [value]  # an attribute's shared value
    if not isinstance(value, bytes):
        return []  # NULL, or plain text from before contents existed
    refs = orjson.loads(value)
    return [refs] if isinstance(refs, int) else [int(each) for each in refs[1:]]


_GENERATION_KEY = "contents_generation"


def content_generation(conn: sqlite3.Connection) -> int:
    """Bumped whenever contents are deleted: caches of content ids or texts are stale then."""
    row = conn.execute(
        "SELECT value FROM derived_state WHERE name = ?", (_GENERATION_KEY,)
    ).fetchone()
    return int(row[0]) if row else 0


def release(conn: sqlite3.Connection, values: Iterable[object]) -> bool:
    """The column values (references) of deleted or rewritten rows give their uses back;
    contents nobody uses any more are deleted. True when some were (the writer's cache of ids
    is then stale: see ContentWriter)."""
    released = Counter(content for value in values for content in content_ids(value))
    if not released:
        return False
    conn.executemany(
        "UPDATE contents SET refs = refs - ? WHERE id = ?",
        [(count, content) for content, count in released.items()],
    )
    deleted = conn.execute(
        "DELETE FROM contents WHERE refs <= 0 AND id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(released)).decode(),),
    ).rowcount
    if deleted:
        conn.execute(
            "INSERT INTO derived_state (name, value) VALUES (?, 1)"
            " ON CONFLICT (name) DO UPDATE SET value = value + 1",
            (_GENERATION_KEY,),
        )
    return deleted > 0
