"""A call's messages as plain text turns: what the transcript shows and what compare diffs.

GenAI message parts are typed (text, tool_call, tool_call_response, reasoning, ...); each becomes
readable text here so no screen has to know the part schema.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import orjson
from textual.content import Content

from localobs.store.calls import CallDetail, Part
from localobs.tui import format as fmt


@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    note: str = ""
    """e.g. the finish reason of an output message."""


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def part_text(part: Part) -> str:
    kind = part.type or "text"
    if kind == "text":
        return _as_text(part.content)
    if kind == "tool_call":
        call_id = f" [{part.id}]" if part.id else ""
        return f"→ tool call {part.name or '?'}{call_id}\n{_as_text(part.arguments)}".rstrip()
    if kind == "tool_call_response":
        call_id = f" [{part.id}]" if part.id else ""
        return f"← tool result{call_id}\n{_as_text(part.content)}".rstrip()
    if kind == "reasoning":
        return f"(reasoning)\n{_as_text(part.content)}"
    return f"({kind})\n{_as_text(part.content)}".rstrip()


def conversation(detail: CallDetail) -> list[Turn]:
    """System instructions, then the input messages, then what the model answered."""
    turns = []
    if detail.system_instructions:
        text = "\n\n".join(part_text(part) for part in detail.system_instructions)
        turns.append(Turn("system", text))
    for message in detail.input_messages:
        turns.append(Turn(message.role, "\n\n".join(part_text(p) for p in message.parts)))
    for message in detail.output_messages:
        note = f"finish: {message.finish_reason}" if message.finish_reason else ""
        turns.append(Turn(message.role, "\n\n".join(part_text(p) for p in message.parts), note))
    return turns


def transcript_lines(detail: CallDetail) -> list[str]:
    """The conversation as lines, each turn headed by its role, for a line diff."""
    lines: list[str] = []
    for turn in conversation(detail):
        lines.append(f"[{turn.role}]" + (f" {turn.note}" if turn.note else ""))
        lines.extend(turn.text.splitlines() or [""])
    return lines


def diff_lines(old: list[str], new: list[str]) -> list[tuple[str, str]]:
    """Every line of both, tagged " " (same), "-" (only in old) or "+" (only in new)."""
    tagged: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            tagged.extend((" ", line) for line in old[i1:i2])
            continue
        tagged.extend(("-", line) for line in old[i1:i2])
        tagged.extend(("+", line) for line in new[j1:j2])
    return tagged


_DIFF_STYLES = {" ": "", "-": "$text-error", "+": "$text-success"}


def message_diff(first: CallDetail, second: CallDetail) -> list[Content]:
    """Both calls' conversations as one line diff, sent text shown literally."""
    return [
        fmt.shown(f"{tag} {line}", _DIFF_STYLES[tag], newlines=True)
        for tag, line in diff_lines(transcript_lines(first), transcript_lines(second))
    ]
