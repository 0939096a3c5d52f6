"""Ingest throughput of `localobs up --headless` against the raw SQLite ceiling of the same rows.

    .venv/bin/python bench/ingest.py [--spans 200000] [--runs 5] [--senders 4]

Each run measures, back to back on this machine: (1) the raw SQLite ceiling: the same spans as
plain rows (a span's own fields, every attribute as sent in one JSON column, no GenAI columns),
inserted with one executemany per 512 rows into a table with a unique (trace_id, span_id) index
and a start-time index (fresh WAL file, the store's pragmas); (2) the receiver: real OTLP
protobuf bodies (512 chat spans of ~1 KB each per request) POSTed by concurrent senders to a
fresh `localobs up --headless` (default caps: retention on, content stored once), timed from
the first request to the last 200. It prints spans/s, the ceiling and their ratio per run and
the median ratio (the machine is shared and noisy: judge the median). Also: seconds from start
to a /health answer, and the RSS of the receiver's processes at the end.
"""

from __future__ import annotations

import argparse
import http.client
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import send_in_parallel, start_localobs
from bench.otlp_load import SPANS_PER_REQUEST, trace_body
from localobs.receiver.bodies import Format
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
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for each in [pid, *map(int, children)]:
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


def receiver_run(bodies: list[bytes], workdir: Path, senders: int) -> tuple[float, float, int]:
    """(spans/s, seconds to first /health answer, RSS KiB at the end)."""
    db = workdir / "receiver.db"
    started = time.perf_counter()
    process, url = start_localobs(db)
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
    elapsed, failures = send_in_parallel(_sender, url, bodies, senders)
    rss = _rss_kib(process.pid)
    process.terminate()
    process.wait(60)
    if failures:
        raise SystemExit(f"the receiver refused batches: {failures[:3]}")
    return len(bodies) * SPANS_PER_REQUEST / elapsed, health_s, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    requests = max(1, args.spans // SPANS_PER_REQUEST)
    print(f"building {requests} requests of {SPANS_PER_REQUEST} spans ...", flush=True)
    ratios = []
    for run in range(1, args.runs + 1):
        bodies = [trace_body(rng) for _ in range(requests)]
        with tempfile.TemporaryDirectory(prefix="localobs-bench-") as tmp:
            rows_per_s = ceiling(bodies, Path(tmp))
            spans_per_s, health_s, rss_kib = receiver_run(bodies, Path(tmp), args.senders)
        ratio = spans_per_s / rows_per_s
        ratios.append(ratio)
        print(
            f"run {run}: receiver {spans_per_s:8.0f} spans/s   ceiling {rows_per_s:8.0f} rows/s"
            f"   ratio {ratio:.2f}   /health after {health_s:.2f} s   RSS {rss_kib / 1024:.0f} MiB",
            flush=True,
        )
    print(
        f"median ratio {statistics.median(ratios):.2f} "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}) over {len(ratios)} runs, "
        f"{requests * SPANS_PER_REQUEST} spans a run, {args.senders} senders"
    )


if __name__ == "__main__":
    main()
