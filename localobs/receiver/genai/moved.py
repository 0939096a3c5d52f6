"""Message content is stored once: moved from `spans.attributes` into the call columns, reversibly.

Every content attribute that normalization removes is listed in the span attribute
`localobs.moved`, a map from the original attribute key to a pointer into the call columns:

* `in`, `out`, `sys` name `input_messages`, `output_messages`, `system_instructions`;
* `<col>` alone: the column text *is* the original string value, byte for byte;
* `<col>!v`: the original was a structured value (array/kvlist); it is the column's JSON, parsed;
* `<col>!j` / `<col>!J`: the original string was Python's ASCII-escaped `json.dumps` of the
  column's JSON, with compact (`,` `:`) or default (`, ` `: `) separators; the column holds the
  unescaped form so non-ASCII text stays searchable;
* `<col>/<step>/...`: the original value sits verbatim at that path of the column's JSON (list
  indices and object keys), e.g. `in/1/parts/0/content`.

A key is moved only when one of these rebuilds it exactly (the move is checked, not assumed);
anything else stays in the attributes. `restore` is the inverse, for lossless export. Attribute
order is not part of OTLP's data model and is not kept.

The record of the commonest moves, the conventions' three content attributes each the whole text
of its column, is written as letters instead (`"ios"` for all three: ~75 bytes less a call).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import orjson

from localobs.receiver.genai.messages import (
    Message,
    Part,
    from_openai_messages,
    is_message_list,
    is_part_list,
    text_part,
)
from localobs.receiver.genai.record import TooDeep, dumps, dumps_parsed

MOVED_KEY = "localobs.moved"
Moves = dict[str, str]
# letter -> (key, pointer): the moves a record may write as letters. Stored: never change one.
_LETTERS = {
    "i": ("gen_ai.input.messages", "in"),
    "o": ("gen_ai.output.messages", "out"),
    "s": ("gen_ai.system_instructions", "sys"),
}

_NOT_JSON = object()


class Shape:
    """How one content attribute is checked, wrapped when it is plain text, and converted."""

    def __init__(
        self,
        valid: Callable[[Any], bool],
        wrap_text: Callable[[str], list[Any]],
        text_pointer: str,
        convert: Callable[[Any], list[Any]],
    ) -> None:
        self.valid = valid
        self.wrap_text = wrap_text
        self.text_pointer = text_pointer
        self.convert = convert


def _message_shape(role: str) -> Shape:
    def wrap_text(text: str) -> list[Message]:
        return [{"role": role, "parts": [text_part(text)]}]

    def convert(value: Any) -> list[Message]:
        return from_openai_messages(value, role)

    return Shape(is_message_list, wrap_text, "0/parts/0/content", convert)


def _system_convert(value: Any) -> list[Part]:
    items = value if type(value) is list else [value]
    return [
        text_part(item) if type(item) is str else text_part(dumps_parsed(item))
        for item in items
        if item is not None
    ]


INPUT = _message_shape("user")
OUTPUT = _message_shape("assistant")
SYSTEM = Shape(is_part_list, lambda text: [text_part(text)], "0/content", _system_convert)


# A system prompt comes with every call of an app: its column text and move are computed once
# (for prompts up to _SYSTEM_CHARS: what the cache holds stays a few MB, whatever is sent).
_SYSTEM_CHARS = 16_384


def take_json(
    attributes: dict[str, Any], key: str, column: str, shape: Shape, moves: Moves
) -> str | None:
    """The column text for a JSON-valued content attribute; records the move when rebuildable.

    The fast path is the common one: a JSON string already in the normalized shape is validated and
    stored as is.
    """
    value = attributes.get(key)
    if value is None:
        return None
    if type(value) is str:
        if shape is SYSTEM and len(value) <= _SYSTEM_CHARS:
            text, move = _system_column(value, column, shape)
        else:
            text, move = _string_column(value, column, shape)
        if move is not None:
            moves[key] = move
        return text
    if shape.valid(value):
        moves[key] = column + "!v"
        return dumps(value)
    return dumps(shape.convert(value))


def _string_column(value: str, column: str, shape: Shape) -> tuple[str, str | None]:
    """The column text for a string attribute, and its move (None when it cannot be rebuilt)."""
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        parsed = _NOT_JSON
    if parsed is not _NOT_JSON:
        found = _from_json_text(value, parsed, column, shape)
        if found is not None:
            return found
    # Not JSON, or JSON nested too deep to write back: the text itself is the content.
    return dumps(shape.wrap_text(value)), f"{column}/{shape.text_pointer}"


_system_column = functools.lru_cache(maxsize=256)(_string_column)


def _from_json_text(
    value: str, parsed: Any, column: str, shape: Shape
) -> tuple[str, str | None] | None:
    """The column text for the JSON text `value` and its move; None when its content cannot be
    written back."""
    try:
        if not shape.valid(parsed):
            return dumps_parsed(shape.convert(parsed)), None
        if "\\u" not in value:
            return value, column
        unescaped = dumps_parsed(parsed)
    except TooDeep:
        return None
    form = _escaped_form(value, parsed)
    return unescaped, (column + form if form else None)


def _escaped_form(original: str, parsed: Any) -> str | None:
    if json.dumps(parsed, separators=(",", ":")) == original:
        return "!j"
    if json.dumps(parsed) == original:
        return "!J"
    return None


def drop(attributes: dict[str, Any], moves: Moves) -> None:
    """Remove the moved keys and record them under MOVED_KEY.

    A span that already carries MOVED_KEY (sent by someone else) keeps all its attributes: its
    record cannot be merged with ours without ambiguity.
    """
    if moves and MOVED_KEY not in attributes:
        for key in moves:
            del attributes[key]
        attributes[MOVED_KEY] = _letters(tuple(moves.items())) or moves


@functools.lru_cache(maxsize=64)  # a dialect moves the same keys to the same places each call
def _letters(moves: tuple[tuple[str, str], ...]) -> str | None:
    """The moves as letters, or None when some move has no letter."""
    letters = "".join(letter for letter, move in _LETTERS.items() if move in moves)
    return letters if len(letters) == len(moves) else None


def restore(
    attributes: dict[str, Any],
    input_messages: str | None,
    output_messages: str | None,
    system_instructions: str | None,
) -> dict[str, Any]:
    """The span's original attributes, rebuilt from its stored attributes and call columns."""
    moves = attributes.get(MOVED_KEY)
    if type(moves) is str:
        moves = dict(_LETTERS[letter] for letter in moves)  # KeyError: not a record of ours
    if type(moves) is not dict:
        return dict(attributes)
    columns = {"in": input_messages, "out": output_messages, "sys": system_instructions}
    parsed: dict[str, Any] = {}
    rebuilt = {key: value for key, value in attributes.items() if key != MOVED_KEY}
    for key, pointer in moves.items():
        if type(pointer) is not str:
            raise ValueError(f"{key}: pointer {pointer!r} is no text")  # not a record of ours
        head, _, path = pointer.partition("/")
        column, _, form = head.partition("!")
        text = columns[column]
        if text is None:
            raise ValueError(f"{key}: column {column!r} is empty")
        if column not in parsed:
            parsed[column] = orjson.loads(text)
        if path:
            node = parsed[column]
            for step in path.split("/"):
                node = node[int(step)] if type(node) is list else node[step]
            rebuilt[key] = node
        elif form == "":
            rebuilt[key] = text
        elif form == "v":
            rebuilt[key] = parsed[column]
        elif form == "j":
            rebuilt[key] = json.dumps(parsed[column], separators=(",", ":"))
        elif form == "J":
            rebuilt[key] = json.dumps(parsed[column])
        else:
            raise ValueError(f"{key}: unknown pointer {pointer!r}")
    return rebuilt
