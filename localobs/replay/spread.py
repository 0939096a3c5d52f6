"""How whimsical a call is: replay outputs grouped by sameness, and the spread of their figures.

Pure functions over `RunResult`s, so the CLI and the viewer say the same thing.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from localobs.replay.runs import RunResult

# Two outputs whose normalized texts are at least this similar (difflib's ratio) are one cluster:
# a changed word or punctuation mark in a sentence, not a different answer.
NEAR_IDENTICAL = 0.9


@dataclass(frozen=True, slots=True)
class Cluster:
    text: str
    """The first member's text, as the model wrote it."""
    runs: tuple[int, ...]
    identical: bool
    """Every member's normalized text is the same (not only near-identical)."""
    has_original: bool

    @property
    def count(self) -> int:
        return len(self.runs)


@dataclass(frozen=True, slots=True)
class Quantiles:
    min: float
    p50: float
    p95: float
    max: float


@dataclass(frozen=True, slots=True)
class Spread:
    temperature: float | None
    runs: int
    failed: int
    clusters: tuple[Cluster, ...]
    output_tokens: Quantiles | None
    duration_ms: Quantiles | None
    ttft_ms: Quantiles | None
    finish_reasons: tuple[tuple[str, int], ...]
    json_parsed: int | None
    """How many outputs parse as JSON, for JSON-constrained calls; None otherwise."""

    @property
    def distinct_answers(self) -> str:
        count = len(self.clusters)
        return f"{count} distinct answer{'' if count == 1 else 's'}"


def normalize(text: str) -> str:
    """What sameness ignores: case and whitespace."""
    return " ".join(text.split()).casefold()


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= NEAR_IDENTICAL and matcher.ratio() >= NEAR_IDENTICAL


def cluster_texts(texts: Sequence[str]) -> list[list[int]]:
    """Indexes of `texts` grouped: identical (normalized) first, then each group joins the first
    earlier group whose representative is near-identical. Biggest group first, ties in order."""
    by_text: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        by_text.setdefault(normalize(text), []).append(index)
    groups: list[tuple[str, list[int]]] = []
    for key, members in by_text.items():
        for representative, group in groups:
            if _similar(representative, key):
                group.extend(members)
                break
        else:
            groups.append((key, list(members)))
    ordered = [sorted(group) for _key, group in groups]
    ordered.sort(key=lambda group: (-len(group), group[0]))
    return ordered


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (the value of a real run, never an interpolation)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def quantiles(values: Sequence[float | int | None]) -> Quantiles | None:
    present = [float(value) for value in values if value is not None]
    if not present:
        return None
    return Quantiles(min(present), quantile(present, 0.5), quantile(present, 0.95), max(present))


def parses_as_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def spread(
    results: Sequence[RunResult], original: str | None = None, *, json_output: bool = False
) -> Spread:
    """The spread of one temperature's runs; `original` is the captured answer, whose cluster
    is marked (it is compared, never counted)."""
    done = [result for result in results if result.error is None]
    texts = [result.text for result in done]
    groups = cluster_texts(texts + ([original] if original is not None else []))
    original_index = len(texts) if original is not None else -1
    clusters = []
    for group in groups:
        runs = tuple(done[index].run for index in group if index != original_index)
        marked = original_index in group
        if not runs:
            continue
        keys = {normalize(texts[index]) for index in group if index != original_index}
        # The original has the highest index, so a group with runs starts with a run.
        clusters.append(Cluster(texts[group[0]], runs, len(keys) == 1, marked))
    reasons = Counter(result.finish_reason or "unknown" for result in done)
    return Spread(
        temperature=results[0].temperature if results else None,
        runs=len(done),
        failed=len(results) - len(done),
        clusters=tuple(clusters),
        output_tokens=quantiles([result.output_tokens for result in done]),
        duration_ms=quantiles([result.duration_ms for result in done]),
        ttft_ms=quantiles([result.ttft_ms for result in done]),
        finish_reasons=tuple(reasons.most_common()),
        json_parsed=sum(parses_as_json(text) for text in texts) if json_output else None,
    )


def spreads(
    results: Sequence[RunResult], original: str | None = None, *, json_output: bool = False
) -> list[Spread]:
    """One spread per temperature, in the order the temperatures were run."""
    by_temperature: dict[float | None, list[RunResult]] = {}
    for result in results:
        by_temperature.setdefault(result.temperature, []).append(result)
    return [spread(group, original, json_output=json_output) for group in by_temperature.values()]
