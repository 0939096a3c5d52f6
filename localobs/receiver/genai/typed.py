"""Leaving out of the attributes what the row's typed columns already hold exactly (see
store/typed_attributes.py for the record and how readers get the attributes back)."""

from __future__ import annotations

import functools
from typing import Any

from localobs.receiver.genai.record import CALL_FIELDS
from localobs.store.typed_attributes import TYPED, TYPED_MARK

# attribute -> (letter, index of its column in the GenAI tail of the row)
_BY_KEY = {key: (letter, CALL_FIELDS.index(column)) for letter, (key, column) in TYPED.items()}
_KEYS = frozenset(_BY_KEY)


def drop_typed(a: dict[str, Any], tail: tuple[Any, ...]) -> None:
    """Remove (in place) the attributes `tail`'s columns hold exactly: same type and value, and
    for a float one SQLite's JSON writes back unchanged (it writes 15 significant digits). They
    are recorded under TYPED_MARK; a span that carries TYPED_MARK already keeps them all. Runs on
    every call span: only the keys present are looked at."""
    if TYPED_MARK in a:
        return
    letters = ""
    for key in [key for key in a if key in _KEYS]:  # in the order sent: the same row each time
        letter, index = _BY_KEY[key]
        sent = a[key]
        stored = tail[index]
        if (
            sent == stored
            and type(sent) is type(stored)
            and (type(sent) is not float or _json_exact(sent))
        ):
            del a[key]
            letters += letter
    if letters:
        a[TYPED_MARK] = letters


@functools.lru_cache(maxsize=1024)  # the same few floats on every call: a temperature, a top_p
def _json_exact(value: float) -> bool:
    """Whether SQLite's JSON (15 significant digits) writes `value` back unchanged."""
    return float(f"{value:.15g}") == value
