"""A call's messages as plain text turns: what the transcript shows and what compare diffs.

GenAI message parts are typed (text, tool_call, tool_call_response, reasoning, ...); each becomes
readable text here so no screen has to know the part schema.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from textual.content import Content

from localobs.store.calls import CallDetail, Part
from localobs.store.messages import base64_size
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


# Binary data inside a part's JSON (a long base64 run, a base64 `data:` URI): shown as its size.
_BINARY = re.compile(r"(data:[\w.+-]*/?[\w.+-]*;base64,)?[A-Za-z0-9+/_-]{200,}={0,2}")


def _no_binary(text: str) -> str:
    """`text` with each run of base64 replaced by a note of how many bytes it holds."""
    return _BINARY.sub(lambda m: f"<{_data_size_of(m.group(0))} of base64 not shown>", text)


def _data_size_of(encoded: str) -> str:
    return fmt.data_size(base64_size(encoded.rsplit(",", 1)[-1]))


def _data(part: Part) -> str:
    """What a binary or referenced part holds: its MIME type and size, never its bytes."""
    facts = [part.mime_type or "type not sent"]
    if part.size is not None:
        facts.append(fmt.data_size(part.size))
    return ", ".join(facts)


def part_text(part: Part) -> str:
    """One part as text, by its type (GenAI conventions' part types; others as sent)."""
    kind = part.type or "text"
    call_id = f" [{part.id}]" if part.id else ""
    if kind == "text":
        return _as_text(part.content)
    if kind == "tool_call":
        return f"→ tool call {part.name or '?'}{call_id}\n{_as_text(part.arguments)}".rstrip()
    if kind == "tool_call_response":
        return f"← tool result{call_id}\n{_no_binary(_as_text(part.content))}".rstrip()
    if kind == "server_tool_call":
        details = _no_binary(_as_text(part.arguments))
        return f"→ server tool call {part.name or '?'}{call_id}\n{details}".rstrip()
    if kind == "server_tool_call_response":
        return f"← server tool result{call_id}\n{_no_binary(_as_text(part.content))}".rstrip()
    if kind == "reasoning":
        return f"(reasoning)\n{_as_text(part.content)}"
    if kind == "compaction":
        return f"(compacted history)\n{_as_text(part.content)}".rstrip()
    if kind == "blob":
        return f"(blob: {_data(part)}; content not shown)"
    if kind in ("uri", "file"):
        where = f" {part.content}" if part.content and part.size is None else ""
        return f"({kind}: {_data(part)}){where}"
    return f"({kind})\n{_no_binary(_as_text(part.content))}".rstrip()


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
