"""Messages from flattened, indexed attributes (`<prefix>.<i>.<field>`), as OpenLLMetry and
OpenInference send them, with each verbatim value's move recorded for `moved.restore`."""

from __future__ import annotations

from typing import Any

from localobs.receiver.genai.messages import Message
from localobs.receiver.genai.moved import Moves
from localobs.receiver.genai.record import dumps

# One attribute: its original key and its value.
Item = tuple[str, Any]
Fields = dict[str, Item]


def _index(text: str) -> int | None:
    """A list index as these libraries write it (ASCII digits, not absurdly long), else None:
    a key with any other middle segment is no indexed attribute and stays as sent."""
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return None


def group_indexed(a: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, dict[int, Fields]]:
    """{group: {index: {field: (key, value)}}} for keys `<prefix><index>.<field>`, in one pass.

    Every prefix has exactly two dotted segments (`llm.input_messages.`): one split of a matching
    key yields its group (the second segment, `input_messages`), index and field.
    """
    found: dict[str, dict[int, Fields]] = {}
    for key, value in a.items():
        if key.startswith(prefixes):
            parts = key.split(".", 3)
            index = _index(parts[2]) if len(parts) == 4 else None
            if index is not None:
                groups = found.get(parts[1])
                if groups is None:
                    groups = found[parts[1]] = {}
                fields = groups.get(index)
                if fields is None:
                    fields = groups[index] = {}
                fields[parts[3]] = (key, value)
    return found


def subgroups(fields: Fields, prefixes: tuple[str, ...]) -> dict[str, dict[int, Fields]]:
    """The same grouping one level down, e.g. `tool_calls.<j>.name` inside one message."""
    found: dict[str, dict[int, Fields]] = {}
    for field, item in fields.items():
        if field.startswith(prefixes):
            for prefix in prefixes:
                if field.startswith(prefix):
                    digits, dot, rest = field[len(prefix) :].partition(".")
                    index = _index(digits)
                    if dot and index is not None:
                        groups = found.setdefault(prefix, {})
                        groups.setdefault(index, {})[rest] = item
                    break
    return found


class FlatMessages:
    """Normalized messages assembled in order; every value placed verbatim is recorded as moved."""

    def __init__(self, column: str, moves: Moves) -> None:
        self.column = column
        self.moves = moves
        self.messages: list[Message] = []

    def start(self, role: Item | None, default_role: str) -> None:
        index = len(self.messages)
        if role is not None and type(role[1]) is str and role[1]:
            self.moves[role[0]] = f"{self.column}/{index}/role"
            self.messages.append({"role": role[1], "parts": []})
        else:
            self.messages.append({"role": default_role, "parts": []})

    def part(
        self,
        part_type: str,
        type_item: Item | None = None,
        extra: dict[str, Any] | None = None,
        **fields: Item | None,
    ) -> None:
        """Append a part to the current message; a None field is stored as null, not moved.

        `type_item` is the attribute that named the part type, moved when it says `part_type`;
        `extra` holds constant fields that no attribute carried (so nothing moves for them).
        """
        index = len(self.messages) - 1
        parts = self.messages[index]["parts"]
        base = f"{self.column}/{index}/parts/{len(parts)}/"
        part: dict[str, Any] = {"type": part_type}
        if type_item is not None and type_item[1] == part_type:
            self.moves[type_item[0]] = base + "type"
        if extra:
            part.update(extra)
        for name, item in fields.items():
            if item is None:
                part[name] = None
            else:
                part[name] = item[1]
                self.moves[item[0]] = base + name
        parts.append(part)

    def extend(self, parts: list[dict[str, Any]]) -> None:
        """Append converted parts (not verbatim, so their source keys stay in the attributes)."""
        self.messages[-1]["parts"].extend(parts)

    def field(self, name: str, item: Item) -> None:
        """Set a message-level field (e.g. finish_reason) of the current message."""
        index = len(self.messages) - 1
        self.messages[index][name] = item[1]
        self.moves[item[0]] = f"{self.column}/{index}/{name}"

    def text(self) -> str | None:
        return dumps(self.messages) if self.messages else None
