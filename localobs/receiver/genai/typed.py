"""Leaving out of the attributes what the row's typed columns already hold exactly (see
store/typed_attributes.py for the record and how readers get the attributes back)."""

from __future__ import annotations

from typing import Any

from localobs.receiver.genai.record import CALL_FIELDS
from localobs.store.typed_attributes import TYPED, TYPED_MARK

# (letter, attribute, index of its column in the GenAI tail of the row)
_TYPED = tuple((letter, key, CALL_FIELDS.index(column)) for letter, (key, column) in TYPED.items())


def _same(sent: Any, stored: Any) -> bool:
    """Whether the column gives back exactly the value sent: same type and value, and for a
    float, one SQLite's JSON writes back unchanged (it writes 15 significant digits)."""
    if type(sent) is not type(stored) or sent != stored:
        return False
    return type(sent) is not float or float(f"{sent:.15g}") == sent


def drop_typed(a: dict[str, Any], tail: tuple[Any, ...]) -> None:
    """Remove (in place) the attributes `tail`'s columns hold exactly, recorded under
    TYPED_MARK; a span that carries TYPED_MARK already keeps all its attributes."""
    if TYPED_MARK in a:
        return
    letters = ""
    get = a.get
    for letter, key, index in _TYPED:
        sent = get(key)
        if sent is not None and _same(sent, tail[index]):
            del a[key]
            letters += letter
    if letters:
        a[TYPED_MARK] = letters
