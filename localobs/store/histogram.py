"""Percentiles: exact over raw values, interpolated over log-scale bucket counts from rollups.

Rollups cannot keep every value, so they keep counts in buckets 2^(1/8) wide (about 9 %); a
percentile read from them is interpolated geometrically inside its bucket, a few per cent off at
most. As long as every value of a question is still at hand (few rows, nothing rolled up yet) the
answer is exact instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

BUCKETS_PER_DOUBLING = 8
# Values at or below 2^-10 (about 0.001, e.g. a zero duration) share the lowest bucket.
LOWEST_INDEX = -10 * BUCKETS_PER_DOUBLING


def bucket_index(value: float) -> int:
    if value <= 2.0**-10:
        return LOWEST_INDEX
    return max(LOWEST_INDEX, math.floor(math.log2(value) * BUCKETS_PER_DOUBLING))


def bucket_bounds(index: int) -> tuple[float, float]:
    if index <= LOWEST_INDEX:
        return 0.0, 2.0 ** ((LOWEST_INDEX + 1) / BUCKETS_PER_DOUBLING)
    return 2.0 ** (index / BUCKETS_PER_DOUBLING), 2.0 ** ((index + 1) / BUCKETS_PER_DOUBLING)


def exact_percentile(ordered: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (as numpy's default), on sorted values."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def few_values(
    count: int, low: float | None, high: float | None, total: float | None
) -> list[float] | None:
    """The observations themselves, sorted, when so few that a histogram's own min, max and sum
    pin them down: one (min = max = sum), two (min and max), three (min, sum - min - max, max).
    Bucket counts alone would put a single 0.12 s in the middle of its (0.1, 0.25] bucket; a
    percentile of these is exact. None when they are not determined (or are inconsistent)."""
    if count == 1:
        only = next((value for value in (low, high, total) if value is not None), None)
        return None if only is None else [only]
    if low is None or high is None or low > high:
        return None
    if count == 2:
        return [low, high]
    if count == 3 and total is not None:
        middle = total - low - high
        slack = 1e-9 * max(1.0, abs(total))
        if low - slack <= middle <= high + slack:
            return [low, min(max(middle, low), high), high]
    return None


def bucket_percentile(counts: dict[int, int], q: float) -> float | None:
    """The value at rank q*(n-1), placed inside its bucket as if the bucket's values were spread
    evenly on a log scale."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = q * (total - 1)
    below = 0
    for index in sorted(counts):
        count = counts[index]
        if count <= 0:
            continue
        if rank < below + count:
            low, high = bucket_bounds(index)
            fraction = (rank - below + 0.5) / count
            if low == 0.0:
                return high * fraction
            return float(low * (high / low) ** fraction)
        below += count
    return bucket_bounds(max(counts))[1]


def encode_buckets(counts: dict[int, int]) -> str:
    """Compact storage form: a flat JSON array [index, count, index, count, ...]; empty
    buckets (a call taken out again) are left out."""
    return "[" + ",".join(f"{i},{counts[i]}" for i in sorted(counts) if counts[i] > 0) + "]"


def decode_buckets(text: str | None) -> dict[int, int]:
    if not text:
        return {}
    numbers = orjson.loads(text)
    return dict(zip(numbers[::2], numbers[1::2], strict=True))


def add_buckets(into: dict[int, int], counts: dict[int, int]) -> None:
    for index, count in counts.items():
        into[index] = into.get(index, 0) + count


class Distribution:
    """The values of one measure (duration, TTFT, ...), from raw rows and/or rollup buckets."""

    __slots__ = ("buckets", "values")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.buckets: dict[int, int] = {}

    def add(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def extend(self, values: Iterable[float]) -> None:
        self.values.extend(values)

    def add_buckets(self, counts: dict[int, int]) -> None:
        add_buckets(self.buckets, counts)

    def bucket_counts(self) -> dict[int, int]:
        """Every value in its log bucket, with the rolled-up buckets: for drawing a histogram."""
        merged = dict(self.buckets)
        for value in self.values:
            index = bucket_index(value)
            merged[index] = merged.get(index, 0) + 1
        return merged

    def percentiles(self, *quantiles: float) -> tuple[float | None, ...]:
        if not self.buckets:
            ordered = sorted(self.values)
            return tuple(exact_percentile(ordered, q) for q in quantiles)
        merged = self.bucket_counts()
        return tuple(bucket_percentile(merged, q) for q in quantiles)
