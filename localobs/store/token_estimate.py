"""Token counts estimated from a call's stored text, for calls whose usage nobody reported.

llama.cpp's server streaming without `stream_options.include_usage` (it ignores the option),
LangChain streaming and others send a call with no token counts. Such a call shows "not
reported" and, next to it, an estimate marked as one everywhere (`~123`, "n of m calls
estimated", `*_tokens_estimated: true`). An estimate lives in its own columns and never
replaces a reported count: a reported count always wins at query time, even one that arrives
after the estimate was made.

The method (METHOD) needs no tokenizer, no model file and no network: one token per run of
letters, digits or underscores and one per other non-space character, plus the chat template's
framing of each input message (5 tokens: ChatML's `<|im_start|>role\\n ... <|im_end|>\\n`) and 5
more for the answer it primes. Measured against llama.cpp's own counts for the 12 demo questions
(`python -m bench.token_estimate`): input within 7.5 % (mean 3.2 %), output within 15 % (mean
4.3 %). Code, numbers and non-English text split differently: it is an estimate, and says so.

Where: the writer makes estimates while it folds settled rows into the rollups (rollups.py), not
in a job of their own nor at query time. Totals over 100 k calls come from the rollups, so each
estimate must be counted there exactly once, with the value its row holds; the fold already reads
every call's message text once, about 2 s after it settled (messages joined from log events after
the span are usually there), and already hears of every later patch of a folded call
(`call_changed`), which estimates it again. A job of its own would need a second watermark and
would have to correct the rollups after them. Until its fold a call shows "not reported" alone.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from localobs.store.text_search import column_strings

METHOD = "word count (1 per word or punctuation mark, +5 per message)"
PER_MESSAGE = 5
PRIMING = 5
_PIECE = re.compile(r"\w+|[^\w\s]")


class TokenEstimate(NamedTuple):
    input: int | None  # None: no input text stored, or the input count was reported
    output: int | None  # None: no output text stored, or the output count was reported
    method: str | None  # METHOD when either is set


NO_ESTIMATE = TokenEstimate(None, None, None)


def text_tokens(text: str) -> int:
    """The estimated token count of plain text."""
    return len(_PIECE.findall(text))


def estimate_from_text(
    input_tokens: int | None,
    output_tokens: int | None,
    input_text: str,
    input_messages: int,
    output_text: str,
) -> TokenEstimate:
    """Estimates for the directions whose count was not reported and whose text is stored:
    `input_text` is the system instructions and input messages (`input_messages` of them)."""
    estimate_in = estimate_out = None
    if input_tokens is None and input_text:
        estimate_in = text_tokens(input_text) + PER_MESSAGE * input_messages + PRIMING
    if output_tokens is None and output_text:
        estimate_out = text_tokens(output_text)
    if estimate_in is None and estimate_out is None:
        return NO_ESTIMATE
    return TokenEstimate(estimate_in, estimate_out, METHOD)


def estimated_calls_text(estimated: int, calls: int) -> str:
    """How totals say some of their calls' counts are estimates: '' when none are."""
    return f"{estimated} of {calls} calls estimated" if estimated else ""


def _column(column: str | None, out: list[str]) -> int:
    """Appends a message column's strings to `out`; returns how many messages it holds."""
    before = len(out)
    document = column_strings(column, out)
    if isinstance(document, list):
        return len(document)
    return int(len(out) > before)


def estimate_tokens(
    input_tokens: int | None,
    output_tokens: int | None,
    input_messages: str | None,
    output_messages: str | None,
    system_instructions: str | None,
) -> TokenEstimate:
    """estimate_from_text of a call's message columns (JSON text), parsing only the columns of
    a direction whose count was not reported."""
    if input_tokens is not None and output_tokens is not None:
        return NO_ESTIMATE  # most calls: nothing to read
    inputs: list[str] = []
    system: list[str] = []
    messages = 0
    if input_tokens is None:
        messages = _column(input_messages, inputs)
        messages += int(_column(system_instructions, system) > 0)
    outputs: list[str] = []
    if output_tokens is None:
        _column(output_messages, outputs)
    return estimate_from_text(
        input_tokens, output_tokens, "\n".join(system + inputs), messages, "\n".join(outputs)
    )
