"""What one model call adds to totals, and what a sum of calls cost.

Rollups store these amounts per slot (call_rollup has a column of each name) and exact totals
sum them from rows: one function computes them for both, so the two paths always agree.
Reported token counts, estimated ones and the parts of a cost are kept apart: an estimate never
adds to a reported count, and a cost the client reported is never priced again.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from localobs.store.cost import (
    COST_COLUMNS_SQL,
    LOCAL,
    PRICE_TABLE,
    REPORTED,
    UNKNOWN,
    Cost,
    CostExtras,
    CostParts,
    PriceTable,
    column_extras,
    cost_parts,
    parts_cost,
)

# True for a plain call: no estimate, cache count or reported cost (see plain_amounts).
_PLAIN_SQL = (
    "coalesce(input_tokens_estimate, output_tokens_estimate, reported_cost_usd,"
    " cache_read_tokens, cache_write_tokens) IS NULL"
)
# What totals read of a call row besides its token counts: NULL for a plain call, else what
# row_amounts reads as a JSON array (few calls pay for building it).
CALL_AMOUNTS_SQL = (
    f"CASE WHEN NOT {_PLAIN_SQL} THEN json_array(provider, input_tokens, output_tokens,"
    f" input_tokens_estimate, output_tokens_estimate, {COST_COLUMNS_SQL}) END"
)


class CallAmounts(NamedTuple):
    usage_calls: int = 0  # calls that reported output tokens
    input_tokens: int = 0  # reported
    output_tokens: int = 0  # reported
    estimated_calls: int = 0  # calls with an estimate standing in for a count nobody reported
    input_tokens_estimate: int = 0  # estimates of input counts nobody reported
    output_tokens_estimate: int = 0
    reported_cost_calls: int = 0  # calls whose client reported their cost
    reported_cost_usd: float = 0.0
    priced_calls: int = 0  # other calls with token counts: a price table can price them
    priced_input_tokens: int = 0  # of those: input read from no cache
    priced_output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def plus(self, other: CallAmounts, sign: int = 1) -> CallAmounts:
        return CallAmounts._make(
            mine + sign * theirs for mine, theirs in zip(self, other, strict=True)
        )

    @staticmethod
    def total(items: list[CallAmounts]) -> CallAmounts:
        """The sum of many (one pass in C: exact totals sum up to 10 000 calls per question)."""
        return CallAmounts._make(map(sum, zip(*items, strict=True))) if items else NO_AMOUNTS


NO_AMOUNTS = CallAmounts()


def row_amounts(
    provider: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    input_estimate: int | None,
    output_estimate: int | None,
    reported_cost: Any,
    cache_read: Any,
    cache_write: Any,
    derived_from: Any,
) -> CallAmounts:
    """call_amounts of a row's columns (CALL_AMOUNTS_SQL's array, in that order)."""
    extras = column_extras(reported_cost, cache_read, cache_write, derived_from)
    return call_amounts(
        provider, input_tokens, output_tokens, input_estimate, output_estimate, extras
    )


def plain_amounts(counts: list[tuple[int | None, int | None]]) -> CallAmounts:
    """The summed amounts of plain calls (PLAIN_SQL true: reported counts and nothing else),
    (input_tokens, output_tokens) each: what call_amounts gives them, summed in C. Most calls
    are plain, and exact totals read up to 10 000 of them per question."""
    inputs = [count for count, _ in counts if count is not None]
    outputs = [count for _, count in counts if count is not None]
    with_tokens = len(counts) - counts.count((None, None))
    tokens_in, tokens_out = sum(inputs), sum(outputs)
    return CallAmounts(
        usage_calls=len(outputs),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        priced_calls=with_tokens,
        priced_input_tokens=tokens_in,
        priced_output_tokens=tokens_out,
    )


def call_amounts(
    provider: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    input_estimate: int | None,
    output_estimate: int | None,
    extras: CostExtras,
) -> CallAmounts:
    """One call's amounts; an estimate counts only where its direction was not reported."""
    estimate_in = input_estimate if input_tokens is None else None
    estimate_out = output_estimate if output_tokens is None else None
    parts = cost_parts(provider, input_tokens, output_tokens, extras)
    return CallAmounts(
        usage_calls=int(output_tokens is not None),
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        estimated_calls=int(estimate_in is not None or estimate_out is not None),
        input_tokens_estimate=estimate_in or 0,
        output_tokens_estimate=estimate_out or 0,
        reported_cost_calls=int(parts.reported is not None),
        reported_cost_usd=parts.reported or 0.0,
        priced_calls=int(parts.has_tokens),
        priced_input_tokens=parts.fresh_input,
        priced_output_tokens=parts.output,
        cache_read_tokens=parts.cache_read,
        cache_write_tokens=parts.cache_write,
    )


class SumCost(NamedTuple):
    cost: Cost  # source: REPORTED when every call reported its cost, else how the rest was priced
    unpriced: int  # calls whose cost is unknown (no price for the model, or no token counts)


def amounts_cost(
    provider: str | None, model: str | None, calls: int, amounts: CallAmounts, table: PriceTable
) -> SumCost:
    """The cost of `calls` calls of one model: the costs they reported plus the table's price of
    the others' token counts (0 for a local model). Estimated tokens are never priced: a price
    on a guessed count would read as a bill."""
    others = calls - amounts.reported_cost_calls
    reported = amounts.reported_cost_usd if amounts.reported_cost_calls else None
    if others == 0:
        return SumCost(Cost(reported, REPORTED) if reported is not None else UNKNOWN, 0)
    parts = CostParts(
        None,
        amounts.priced_input_tokens,
        amounts.priced_output_tokens,
        amounts.cache_read_tokens,
        amounts.cache_write_tokens,
        amounts.priced_calls > 0,
    )
    priced = parts_cost(provider, model, parts, table)
    if priced.source == LOCAL:
        unpriced = 0
    elif priced.source == PRICE_TABLE:
        unpriced = others - amounts.priced_calls
    else:
        unpriced = others
    if priced.usd is None:
        return SumCost(Cost(reported, REPORTED) if reported is not None else UNKNOWN, unpriced)
    return SumCost(Cost(priced.usd + (reported or 0.0), priced.source), unpriced)
