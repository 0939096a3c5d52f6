"""Coding agents' own metrics summed over a window: delta points (Claude Code's default) and
cumulative ones (a series' growth inside the window), shown as one literal line."""

from __future__ import annotations

import time

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from localobs.store.coding_agents import CodingAgentTotals, coding_agent_totals, summary_text
from localobs.store.stats import totals
from localobs.tui.widgets.totals_bar import totals_content
from tests.conftest import RunningReceiver
from tests.otlp_samples import kv

S = 1_000_000_000


def _request(
    temporality: int, points: list[tuple[str, str | None, float, int]], start: int
) -> bytes:
    """Sum points (metric name, `type` attribute, value, time) of one resource."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.append(kv("service.name", "claude-code"))
    scope = resource.scope_metrics.add()
    for name, kind, value, at in points:
        metric = scope.metrics.add()
        metric.name = name
        metric.sum.aggregation_temporality = temporality
        metric.sum.is_monotonic = True
        point = metric.sum.data_points.add()
        point.as_double = value
        point.start_time_unix_nano = start
        point.time_unix_nano = at
        point.attributes.append(kv("session.id", "s1"))
        if kind is not None:
            point.attributes.append(kv("type", kind))
    return request.SerializeToString()


def _post(receiver: RunningReceiver, body: bytes) -> None:
    headers = {"Content-Type": "application/x-protobuf"}
    assert (
        httpx.post(f"{receiver.url}/v1/metrics", content=body, headers=headers).status_code == 200
    )


def _totals(receiver: RunningReceiver, now: int, window_s: float | None) -> CodingAgentTotals:
    deadline = time.monotonic() + 10
    while True:
        conn = receiver.store.reader()
        try:
            found = coding_agent_totals(conn, lambda: now, window_s)
        finally:
            conn.close()
        if found or time.monotonic() > deadline:
            (agent,) = found
            return agent


def test_delta_points_in_the_window_are_summed(receiver: RunningReceiver) -> None:
    now = time.time_ns()
    delta = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    points = [
        ("claude_code.token.usage", "input", 100, now - 120 * S),  # before a 60 s window
        ("claude_code.token.usage", "input", 30, now - 10 * S),
        ("claude_code.token.usage", "cacheRead", 7, now - 10 * S),
        ("claude_code.lines_of_code.count", "added", 12, now - 5 * S),
        ("claude_code.lines_of_code.count", "removed", 3, now - 5 * S),
        ("claude_code.commit.count", None, 1, now - 5 * S),
        ("claude_code.cost.usage", None, 0.25, now - 5 * S),
    ]
    _post(receiver, _request(delta, points, now - 200 * S))
    everything = _totals(receiver, now, None)
    assert everything.input_tokens == 130
    recent = _totals(receiver, now, 60)
    assert (recent.input_tokens, recent.cache_read_tokens) == (30, 7)
    assert (recent.lines_added, recent.lines_removed, recent.commits) == (12, 3, 1)
    assert recent.output_tokens is None and recent.pull_requests is None  # never sent
    assert recent.cost_usd == 0.25
    line = summary_text(recent)
    assert line.startswith("Claude Code: tokens 30 in / — out (cache 7 read, — written)")
    assert "lines +12 -3" in line and "1 commit" in line and "$0.25 reported" in line


def test_cumulative_series_count_their_growth_inside_the_window(receiver: RunningReceiver) -> None:
    now = time.time_ns()
    cumulative = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    start = now - 300 * S
    for value, at in ((50, now - 120 * S), (80, now - 30 * S), (95, now - 10 * S)):
        points = [("claude_code.active_time.total", "cli", value, at)]
        _post(receiver, _request(cumulative, points, start))
    assert _totals(receiver, now, 60).active_time_s == 45  # 95 less 50 before the window
    assert _totals(receiver, now, None).active_time_s == 95


def test_the_header_shows_the_agents_line_beside_the_calls_totals(
    receiver: RunningReceiver,
) -> None:
    now = time.time_ns()
    delta = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    _post(receiver, _request(delta, [("claude_code.cost.usage", None, 1.5, now - S)], now - 2 * S))
    agent = _totals(receiver, now, None)
    conn = receiver.store.reader()
    try:
        calls = totals(conn, lambda: now, None)
    finally:
        conn.close()
    shown = totals_content(calls, "all", (agent,)).plain.splitlines()
    assert shown[0].startswith("all: 0 calls") and shown[0].endswith("cost $0")  # not added
    assert shown[-1] == "Claude Code: cost $1.50 reported (the same spending as its calls)"
