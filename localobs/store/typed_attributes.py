"""Scalar span attributes kept once: in their typed column, not again in `spans.attributes`.

A model call's operation, provider, models, token counts and the like are stored in typed columns
(the calls list reads them from its index); repeating them in the attributes JSON cost ~250 bytes a
call, a fifth of the span. The receiver leaves such an attribute out when its column holds exactly
the value sent (same type and value; a float only when SQLite's JSON writes it back exactly) and
lists what it left out under TYPED_MARK, one letter per attribute. `attributes_sql` puts them back
(contents.py), so every reader, export included, sees the attributes as sent.
"""

from __future__ import annotations

TYPED_MARK = "localobs.typed"

# letter -> (attribute, column). The letters are stored in databases: never change or reuse one.
TYPED: dict[str, tuple[str, str]] = {
    "o": ("gen_ai.operation.name", "operation"),
    "p": ("gen_ai.provider.name", "provider"),
    "P": ("gen_ai.system", "provider"),
    "m": ("gen_ai.request.model", "request_model"),
    "r": ("gen_ai.response.model", "response_model"),
    "i": ("gen_ai.usage.input_tokens", "input_tokens"),
    "I": ("gen_ai.usage.prompt_tokens", "input_tokens"),
    "u": ("gen_ai.usage.output_tokens", "output_tokens"),
    "U": ("gen_ai.usage.completion_tokens", "output_tokens"),
    "t": ("gen_ai.request.temperature", "temperature"),
    "x": ("gen_ai.request.max_tokens", "max_tokens"),
    "c": ("gen_ai.conversation.id", "conversation_id"),
    "a": ("gen_ai.agent.name", "agent_name"),
    "n": ("gen_ai.tool.name", "tool_name"),
    "k": ("gen_ai.tool.call.id", "tool_call_id"),
}


def typed_sql(column: str, attributes: str) -> str:
    """SQL giving `attributes` (an expression of the `spans` row's attributes JSON `column`)
    with its typed attributes back in place: one json_set over every letter, where a letter not
    listed sets the mark itself, which is removed last."""
    mark = f"'$.\"{TYPED_MARK}\"'"
    letters = f"json_extract({column}, {mark})"
    pairs = ", ".join(
        f"CASE WHEN instr({letters}, '{letter}') THEN '$.\"{key}\"' ELSE {mark} END, {typed}"
        for letter, (key, typed) in TYPED.items()
    )
    return (
        f"CASE WHEN instr({column}, '\"{TYPED_MARK}\"') = 0 THEN {attributes}"
        f" ELSE json_remove(json_set({attributes}, {pairs}), {mark}) END"
    )
