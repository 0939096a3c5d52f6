"""What coding agents report about themselves in their metrics: tokens, cost, active time, lines
changed, commits and pull requests, summed over a window.

These counters are the agent's own account of a session, and they overlap the model calls built
from its log events (receiver/genai/claude_code.py): the same tokens and the same spending,
counted twice if added to the calls' totals. So they are never added: they are shown as the
agent's own figures beside the calls' totals, and cost totals elsewhere come from the calls.

Counters come as delta points (Claude Code's default: each point counts what happened since the
last export) or cumulative ones (a series' latest point minus its last point before the window).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from localobs.store.cost import usd_text
from localobs.store.metrics_query import sum_increases
from localobs.store.windows import Clock, window_since

__all__ = [
    "AGENT_METRICS",
    "AgentMetrics",
    "CodingAgentTotals",
    "coding_agent_totals",
    "summary_text",
]


@dataclass(frozen=True, slots=True)
class AgentMetrics:
    """Where one agent reports each figure: metric names, and the `type` attribute values that
    split tokens and lines (None: that figure is not reported by the agent)."""

    agent: str
    sessions: str | None
    tokens: str | None
    token_types: tuple[str, str, str, str]  # input, output, cache read, cache write
    cost: str | None
    active_time: str | None
    lines: str | None
    line_types: tuple[str, str]  # added, removed
    commits: str | None
    pull_requests: str | None

    def names(self) -> tuple[str, ...]:
        return tuple(
            name
            for name in (
                self.sessions,
                self.tokens,
                self.cost,
                self.active_time,
                self.lines,
                self.commits,
                self.pull_requests,
            )
            if name is not None
        )


AGENT_METRICS: tuple[AgentMetrics, ...] = (
    AgentMetrics(
        agent="Claude Code",
        sessions="claude_code.session.count",
        tokens="claude_code.token.usage",
        token_types=("input", "output", "cacheRead", "cacheCreation"),
        cost="claude_code.cost.usage",
        active_time="claude_code.active_time.total",
        lines="claude_code.lines_of_code.count",
        line_types=("added", "removed"),
        commits="claude_code.commit.count",
        pull_requests="claude_code.pull_request.count",
    ),
)


@dataclass(frozen=True, slots=True)
class CodingAgentTotals:
    """One agent's own figures in the window; None: the agent sent no such metric."""

    agent: str
    sessions: int | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    cost_usd: float | None  # as the agent reports it; already part of its calls' cost
    active_time_s: float | None
    lines_added: int | None
    lines_removed: int | None
    commits: int | None
    pull_requests: int | None


# (metric name, its `type` attribute or None) -> the sum in the window
_Sums = dict[tuple[str, str | None], float]


def _count(sums: _Sums, name: str | None, kind: str | None = None) -> int | None:
    value = _total(sums, name, kind)
    return None if value is None else round(value)


def _total(sums: _Sums, name: str | None, kind: str | None = None) -> float | None:
    """The metric's sum (of one `type` when kind is given); None when it was never sent."""
    if name is None:
        return None
    found = [
        value
        for (metric, metric_kind), value in sums.items()
        if metric == name and (kind is None or metric_kind == kind)
    ]
    return sum(found) if found else None


def coding_agent_totals(
    conn: sqlite3.Connection, clock: Clock, window_s: float | None
) -> tuple[CodingAgentTotals, ...]:
    """Each coding agent's own figures over the window, for the agents that sent any."""
    now = clock()
    since = window_since(clock, window_s)
    found = []
    for spec in AGENT_METRICS:
        names = spec.names()
        increases = sum_increases(conn, names, since, now, by="type")
        sums: _Sums = {key: total for key, (_points, total) in increases.items()}
        if not sums:
            continue
        tokens_in, tokens_out, cache_read, cache_write = spec.token_types
        added, removed = spec.line_types
        found.append(
            CodingAgentTotals(
                agent=spec.agent,
                sessions=_count(sums, spec.sessions),
                input_tokens=_count(sums, spec.tokens, tokens_in),
                output_tokens=_count(sums, spec.tokens, tokens_out),
                cache_read_tokens=_count(sums, spec.tokens, cache_read),
                cache_write_tokens=_count(sums, spec.tokens, cache_write),
                cost_usd=_total(sums, spec.cost),
                active_time_s=_total(sums, spec.active_time),
                lines_added=_count(sums, spec.lines, added),
                lines_removed=_count(sums, spec.lines, removed),
                commits=_count(sums, spec.commits),
                pull_requests=_count(sums, spec.pull_requests),
            )
        )
    return tuple(found)


def _n(count: int | None) -> str:
    return "—" if count is None else f"{count:,}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _active(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def summary_text(found: CodingAgentTotals) -> str:
    """One line of an agent's own figures (those it sent), for the header and `localobs stats`.
    Its cost is labelled as its own report of its calls' spending, never a second total."""
    parts: list[str] = []
    if found.sessions is not None:
        parts.append(_plural(found.sessions, "session"))
    if found.input_tokens is not None or found.output_tokens is not None:
        tokens = f"tokens {_n(found.input_tokens)} in / {_n(found.output_tokens)} out"
        if found.cache_read_tokens is not None or found.cache_write_tokens is not None:
            tokens += (
                f" (cache {_n(found.cache_read_tokens)} read,"
                f" {_n(found.cache_write_tokens)} written)"
            )
        parts.append(tokens)
    if found.cost_usd is not None:
        parts.append(f"cost {usd_text(found.cost_usd)} reported (the same spending as its calls)")
    if found.active_time_s is not None:
        parts.append(f"active {_active(found.active_time_s)}")
    if found.lines_added is not None or found.lines_removed is not None:
        parts.append(f"lines +{_n(found.lines_added)} -{_n(found.lines_removed)}")
    if found.commits is not None:
        parts.append(_plural(found.commits, "commit"))
    if found.pull_requests is not None:
        parts.append(_plural(found.pull_requests, "pull request"))
    return f"{found.agent}: " + "  ".join(parts)
