"""Ingest throughput of `localobs up --headless` against the raw SQLite ceiling of the same rows.

    .venv/bin/python bench/ingest.py [--spans 200000] [--runs 5] [--senders 4]
    .venv/bin/python bench/ingest.py --compare-redaction [--spans 100000] [--runs 6]

Each run measures, back to back on this machine: (1) the raw SQLite ceiling: the same spans as
plain rows (a span's own fields, every attribute as sent in one JSON column, no GenAI columns),
inserted with one executemany per 512 rows into a table with a unique (trace_id, span_id) index
and a start-time index (fresh WAL file, the store's pragmas); (2) the receiver: real OTLP
protobuf bodies (512 chat spans of ~1 KB each per request) POSTed by concurrent senders to a
fresh `localobs up --headless` (default caps: retention on, content stored once), timed from
the first request to the last 200. It prints spans/s, the ceiling and their ratio per run and
the median ratio (the machine is shared and noisy: judge the median). Also: seconds from start
to a /health answer, the RSS of the receiver's processes at the end, and the CPU time a span of
its front and writer processes during the load, with how busy each was (100 %: one whole core):
the busier one is what limits the rate (see docs/ingest-limits.md).
With --compare-redaction each run times the receiver twice on the same bodies, with redaction on
(the default) and with --no-redact, in alternating order, and prints what redaction costs.

`--roles-cost`: instead, what recognising agent roles and fields costs, before/after in one run:
the front's whole per-span work on the same bodies (protobuf decode, attributes, GenAI
normalization, row building: `decode_body`), timed in alternating rounds with the agent part
switched off (in this process only) and on. The front is the busier of the two processes, so its
share bounds the change of the ingest ratio.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from bench.harness import child_pids, cpu_seconds, send_in_parallel, start_localobs
from bench.otlp_load import SPANS_PER_REQUEST, trace_body
from localobs.receiver.bodies import Format
from localobs.receiver.genai import dispatch
from localobs.receiver.genai.agents import NO_AGENT
from localobs.receiver.genai.moved import restore
from localobs.receiver.pipeline import decode_body
from localobs.store.contents import MESSAGE_COLUMNS
from localobs.store.database import connect
from localobs.store.schema import SPAN_COLUMNS

# The ceiling's table: a span's own fields, no GenAI columns, with the spans table's unique id
# index and an index on start time (as the ratio was first defined: see the shared notes).
_RAW_TABLE = f"""
CREATE TABLE spans ({", ".join(SPAN_COLUMNS[: SPAN_COLUMNS.index("span_role")])});
CREATE UNIQUE INDEX spans_by_id ON spans (trace_id, span_id);
CREATE INDEX spans_by_start ON spans (start_time_unix_nano);
"""


def raw_rows(bodies: list[bytes]) -> list[list[tuple[object, ...]]]:
    """The receiver's rows, flattened back to plain spans: every attribute as sent (message
    content included) in `attributes`, no GenAI columns."""
    width = SPAN_COLUMNS.index("span_role")
    at = {name: SPAN_COLUMNS.index(name) for name in (*MESSAGE_COLUMNS, "attributes")}
    batches = []
    for body in bodies:
        rows = []
        for row in decode_body("traces", body, Format.PROTOBUF)[0].rows:
            attributes = restore(
                orjson.loads(row[at["attributes"]]),
                *(row[at[column]] for column in MESSAGE_COLUMNS),
            )
            flat = list(row[:width])
            flat[at["attributes"]] = orjson.dumps(attributes).decode()
            rows.append(tuple(flat))
        batches.append(rows)
    return batches


def ceiling(bodies: list[bytes], workdir: Path) -> float:
    """Rows/s of a plain executemany of the flattened span rows into SQLite, 512 rows a commit
    (same pragmas as the store: WAL, synchronous NORMAL)."""
    batches = raw_rows(bodies)
    conn = connect(workdir / "ceiling.db")
    conn.executescript(_RAW_TABLE)
    insert = f"INSERT INTO spans VALUES ({', '.join('?' * len(batches[0][0]))})"
    started = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return sum(map(len, batches)) / elapsed


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (the writer process), in KiB."""
    total = 0
    for each in [pid, *child_pids(pid)]:
        status = Path(f"/proc/{each}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return total


def _sender(url: str, bodies: list[bytes], failures: list[str]) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    for body in bodies:
        while True:
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            response.read()
            if response.status == 503:
                time.sleep(0.05)
                continue
            if response.status != 200:
                failures.append(f"HTTP {response.status}")
            break
    conn.close()


class ReceiverRun(NamedTuple):
    """What one run of the receiver measured."""

    spans_per_s: float
    health_s: float
    """Seconds from start to the first /health answer."""
    rss_kib: int
    """Of the front and writer processes, at the end."""
    front_us: float
    """CPU time a span of the front process (HTTP, decoding, handing rows to the writer)."""
    writer_us: float
    """CPU time a span of the writer process (SQLite, its checkpoint thread)."""
    front_busy: float
    """The front's CPU time over the load's duration: 1.0 is one core all the time."""
    writer_busy: float

    def cpu(self) -> str:
        """The CPU figures, as a run line prints them."""
        return (
            f"front {self.front_us:4.1f} us/span ({self.front_busy:3.0%})   "
            f"writer {self.writer_us:4.1f} us/span ({self.writer_busy:3.0%})"
        )


def receiver_run(bodies: list[bytes], workdir: Path, senders: int, *extra: str) -> ReceiverRun:
    """The receiver's rate on `bodies` and what it used; `extra`: options of up."""
    db = workdir / f"receiver{''.join(extra)}.db"
    started = time.perf_counter()
    process, url = start_localobs(db, *extra)
    parts = urlsplit(url)
    while True:
        try:
            probe = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            probe.request("GET", "/health")
            if probe.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.01)
    health_s = time.perf_counter() - started
    (writer,) = child_pids(process.pid)
    front_s, writer_s = -cpu_seconds(process.pid), -cpu_seconds(writer)
    elapsed, failures = send_in_parallel(_sender, url, bodies, senders)
    front_s += cpu_seconds(process.pid)
    writer_s += cpu_seconds(writer)
    rss = _rss_kib(process.pid)
    process.terminate()
    process.wait(60)
    if failures:
        raise SystemExit(f"the receiver refused batches: {failures[:3]}")
    spans = len(bodies) * SPANS_PER_REQUEST
    return ReceiverRun(
        spans_per_s=spans / elapsed,
        health_s=health_s,
        rss_kib=rss,
        front_us=front_s / spans * 1e6,
        writer_us=writer_s / spans * 1e6,
        front_busy=front_s / elapsed,
        writer_busy=writer_s / elapsed,
    )


def _front_us_per_span(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        decode_body("traces", body, Format.PROTOBUF)
    return (time.perf_counter() - started) / (len(bodies) * SPANS_PER_REQUEST) * 1e6


def roles_cost(bodies: list[bytes], rounds: int) -> None:
    recognise = (dispatch.agent_fields, dispatch.refine_role)

    def no_fields(name: str, a: dict[str, object], role: str, dialect: str) -> tuple[None, ...]:
        return NO_AGENT

    def same_role(role: str, a: dict[str, object]) -> str:
        return role

    timings: dict[str, list[float]] = {"without": [], "with": []}
    variants: dict[str, tuple[Any, Any]]
    variants = {"without": (no_fields, same_role), "with": recognise}
    try:
        for number in range(rounds):
            # ABBA order: neither variant always runs second (after the other's garbage).
            for label in ("without", "with") if number % 2 == 0 else ("with", "without"):
                dispatch.agent_fields, dispatch.refine_role = variants[label]
                gc.collect()
                timings[label].append(_front_us_per_span(bodies))
    finally:
        dispatch.agent_fields, dispatch.refine_role = recognise
    before = statistics.median(timings["without"])
    after = statistics.median(timings["with"])
    print(
        f"front per span, median of {rounds} alternating rounds: without agent recognition"
        f" {before:.2f} us, with {after:.2f} us: +{after - before:.2f} us"
        f" ({(after - before) / before:+.1%} of the front's work)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--compare-redaction",
        action="store_true",
        help="in each run, also run the receiver with --no-redact (which one goes first "
        "alternates) and report redaction's cost as the ratio of the two",
    )
    parser.add_argument("--roles-cost", action="store_true", help="see the module docstring")
    args = parser.parse_args()
    if args.compare_redaction:
        compare_redaction(args)
        return
    rng = random.Random(args.seed)
    requests = max(1, args.spans // SPANS_PER_REQUEST)
    if args.roles_cost:
        roles_cost([trace_body(rng) for _ in range(requests)], max(args.runs, 5))
        return
    print(f"building {requests} requests of {SPANS_PER_REQUEST} spans ...", flush=True)
    ratios = []
    for run in range(1, args.runs + 1):
        bodies = [trace_body(rng) for _ in range(requests)]
        with tempfile.TemporaryDirectory(prefix="localobs-bench-") as tmp:
            rows_per_s = ceiling(bodies, Path(tmp))
            receiver = receiver_run(bodies, Path(tmp), args.senders)
        ratio = receiver.spans_per_s / rows_per_s
        ratios.append(ratio)
        print(
            f"run {run}: receiver {receiver.spans_per_s:8.0f} spans/s   ceiling"
            f" {rows_per_s:8.0f} rows/s   ratio {ratio:.2f}   {receiver.cpu()}"
            f"   /health after {receiver.health_s:.2f} s   RSS {receiver.rss_kib / 1024:.0f} MiB",
            flush=True,
        )
    print(
        f"median ratio {statistics.median(ratios):.2f} "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}) over {len(ratios)} runs, "
        f"{requests * SPANS_PER_REQUEST} spans a run, {args.senders} senders"
    )


def _with_literal(body: bytes) -> bytes:
    """The body with one ordinary word that holds a format's literal ("task-" holds "sk-"): no
    credential, but the whole batch takes redaction's slow path."""
    request = ExportTraceServiceRequest.FromString(body)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="note", value=AnyValue(string_value="a task-list"))
    return request.SerializeToString()


def decode_cpu_cost(bodies: list[bytes], rounds: int = 15) -> None:
    """The receiver's front CPU time per span, decoding with and without redaction, alternating:
    CPU time of this process barely moves with the machine's load, unlike wall-clock rates.
    Also bodies that take the slow path (a literal in one span of each)."""
    suspect = [_with_literal(body) for body in bodies]
    cases = {"off": (bodies, False), "on": (bodies, True), "on, slow path": (suspect, True)}
    cpu_us: dict[str, list[float]] = {case: [] for case in cases}
    spans = len(bodies) * SPANS_PER_REQUEST
    for _ in range(rounds):
        for case, (sent, redact) in cases.items():
            started = time.process_time()
            for body in sent:
                decode_body("traces", body, Format.PROTOBUF, redact=redact)
            cpu_us[case].append((time.process_time() - started) / spans * 1e6)
    off = statistics.median(cpu_us["off"])
    figures = "   ".join(
        f"{case} {statistics.median(cpu_us[case]):.2f} us"
        + (f" ({statistics.median(cpu_us[case]) / off - 1:+.1%})" if case != "off" else "")
        for case in cases
    )
    print(f"front CPU per span, decoding ({rounds} alternating rounds): {figures}", flush=True)


def compare_redaction(args: argparse.Namespace) -> None:
    """Receiver throughput with redaction on (the default) and off, interleaved, on the same
    bodies in each run: the machine's load drifts, so only figures of one run are compared."""
    rng = random.Random(args.seed)
    requests = max(1, args.spans // SPANS_PER_REQUEST)
    decode_cpu_cost([trace_body(rng) for _ in range(20)])
    costs = []
    for run in range(1, args.runs + 1):
        bodies = [trace_body(rng) for _ in range(requests)]
        figures: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="localobs-bench-") as tmp:
            rows_per_s = ceiling(bodies, Path(tmp))
            order = ("on", "off") if run % 2 else ("off", "on")
            for mode in order:
                extra = ("--no-redact",) if mode == "off" else ()
                figures[mode] = receiver_run(bodies, Path(tmp), args.senders, *extra).spans_per_s
        cost = 1 - figures["on"] / figures["off"]
        costs.append(cost)
        print(
            f"run {run}: redaction on {figures['on']:8.0f} spans/s (ratio "
            f"{figures['on'] / rows_per_s:.2f})   off {figures['off']:8.0f} spans/s (ratio "
            f"{figures['off'] / rows_per_s:.2f})   on costs {cost:+.1%}",
            flush=True,
        )
    print(
        f"redaction costs {statistics.median(costs):+.1%} of the ingest rate, median of "
        f"{len(costs)} runs (range {min(costs):+.1%} to {max(costs):+.1%}), "
        f"{requests * SPANS_PER_REQUEST} spans a run"
    )


if __name__ == "__main__":
    main()
