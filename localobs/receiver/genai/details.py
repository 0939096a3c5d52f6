"""The call-details part of a span row: cache and reasoning usage and the reasoning level asked for.

These are read the same way in every dialect that sends them (the GenAI conventions' names, and
the older or vendor spellings still in use), so one function serves all; so is a cost the span
reports (store/cost.py reads its keys). The TTFT source and `derived_from` are filled by the code
that knows them (see dispatch and the coding-agent event mappers); they default to None here.
"""

from __future__ import annotations

from typing import Any

from localobs.receiver.genai.record import as_count, as_str
from localobs.store.cost import REPORTED_COST_KEYS, reported_cost
from localobs.store.schema import SPAN_COLUMNS

# The tail of the span row after the agent fields, in the order of the store's columns.
DETAIL_FIELDS = SPAN_COLUMNS[SPAN_COLUMNS.index("ttft_source") :]
NO_DETAILS: tuple[None, ...] = (None,) * len(DETAIL_FIELDS)

# The GenAI conventions' names first (registry: `cache_read.input_tokens`,
# `cache_creation.input_tokens`, `reasoning.output_tokens`; `cache_write` as the newer usage
# metrics spell it), then the older and vendor spellings still sent: OpenLLMetry / Anthropic's
# underscored names, Pydantic AI's `gen_ai.usage.details.*`, OpenInference's token-count details.
_CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cached_tokens",
    "ai.usage.inputTokenDetails.cacheReadTokens",  # the Vercel AI SDK 5+
    "ai.usage.cachedInputTokens",
    "gen_ai.usage.details.cache_read_tokens",
    "llm.token_count.prompt_details.cache_read",
)
_CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "ai.usage.inputTokenDetails.cacheWriteTokens",
    "gen_ai.usage.details.cache_write_tokens",
    "llm.token_count.prompt_details.cache_write",
)
_REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "ai.usage.outputTokenDetails.reasoningTokens",
    "ai.usage.reasoningTokens",
    "gen_ai.usage.details.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
_REASONING_LEVEL = (
    "gen_ai.request.reasoning.level",
    "gen_ai.request.reasoning_effort",
    "gen_ai.openai.request.reasoning_effort",
)


def _first(a: dict[str, Any], keys: tuple[str, ...], read: Any) -> Any:
    for key in keys:
        value = read(a.get(key))
        if value is not None:
            return value
    return None


_KEYS = frozenset(
    (*_CACHE_READ, *_CACHE_WRITE, *_REASONING, *_REASONING_LEVEL, *REPORTED_COST_KEYS)
)


def call_details(a: dict[str, Any], ttft_source: str | None = None) -> tuple[Any, ...]:
    """The detail fields (DETAIL_FIELDS) a span's attributes carry."""
    if _KEYS.isdisjoint(a):  # most calls: one set operation in C
        return NO_DETAILS if ttft_source is None else (ttft_source, *NO_DETAILS[1:])
    return (
        ttft_source,
        _first(a, _CACHE_READ, as_count),
        _first(a, _CACHE_WRITE, as_count),
        _first(a, _REASONING, as_count),
        _first(a, _REASONING_LEVEL, as_str),
        reported_cost(a),  # or set by the mappers of clients that report one in log events
        None,  # derived_from: set only for calls built from another signal
        None,  # input_tokens_estimate .. token_estimate_method: where usage is missing
        None,
        None,
    )
