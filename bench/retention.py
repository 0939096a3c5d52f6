"""Retention under load: does the size cap hold on disk, and how long does ingest wait for it?

    .venv/bin/python bench/retention.py [--spans 100000] [--cap 16MiB] [--rate 0]

Two runs back to back, one sender each, bench/ingest.py's load (512 chat spans of ~1 KB per
request) sent to a fresh `localobs up --headless`: without a cap, then with `--max-db-size CAP`;
at full speed, or with `--rate N` a steady N spans/s.
For each it prints the request latency (median, p99, max: a request waits for its commit, so a
long retention step would show here), the largest size of the files (database + WAL + shm)
sampled every 20 ms, and the size once idle (with the cap: once under it, and how long after
the last request that took, up to 60 s). Then, in this process, the longest single step of
the writer's retention job pruning a database of that load down to the cap (what one step holds
the write lock for). The machine may be shared: compare the two runs of one invocation.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import start_localobs
from bench.otlp_load import SPANS_PER_REQUEST, trace_body
from localobs.cli.up import parse_size
from localobs.store.database import connect
from localobs.store.retention import RetentionJob, RetentionPolicy, files_size, set_policy


def _run(
    db: Path, bodies: list[bytes], extra: tuple[str, ...], cap: int, rate: int
) -> tuple[list[float], int, int, float]:
    """Request latencies (s), the largest file size seen, the size once idle, and the seconds
    after the last request until the files were under `cap` (0: no cap)."""
    process, url = start_localobs(db, *extra)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, files_size(db))

    sampler = threading.Thread(target=sample)
    sampler.start()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    latencies = []
    start = time.perf_counter()
    try:
        for number, body in enumerate(bodies):
            if rate:  # request n leaves at n * 512 / rate seconds, however long the last took
                time.sleep(
                    max(0.0, start + number * SPANS_PER_REQUEST / rate - time.perf_counter())
                )
            begin = time.perf_counter()
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - begin)
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status}")
        # Idle: the writer prunes and truncates the WAL (up to 60 s for it to get under the cap).
        sent = time.perf_counter()
        while time.perf_counter() - sent < 60 and files_size(db) > cap:
            time.sleep(0.1)
        caught_up = time.perf_counter() - sent
    finally:
        done.set()
        sampler.join()
        settled = files_size(db)
        process.terminate()
        process.wait()
    return latencies, max(peak, settled), settled, caught_up


def _longest_step(db: Path, cap: int) -> tuple[float, int]:
    """The writer's retention job pruning `db` to `cap`: its longest step, and how many."""
    conn = connect(db)
    set_policy(conn, RetentionPolicy(cap, 0))
    job = RetentionJob(conn, db)
    job.overdue()  # reads the policy and checks the size
    longest, steps = 0.0, 0
    while True:
        begin = time.perf_counter()
        more = job.step()
        longest = max(longest, time.perf_counter() - begin)
        steps += 1
        if not more:
            break
    conn.close()
    return longest, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--cap", default="16MiB")
    parser.add_argument("--rate", type=int, default=0, help="spans/s; 0: as fast as it goes")
    args = parser.parse_args()
    cap = parse_size(args.cap)
    rng = random.Random(7)
    bodies = [trace_body(rng) for _ in range(max(1, args.spans // SPANS_PER_REQUEST))]
    wire = sum(map(len, bodies))
    pace = f" at {args.rate} spans/s" if args.rate else " at full speed"
    print(f"{len(bodies) * SPANS_PER_REQUEST} spans, {wire / 2**20:.1f} MiB of protobuf{pace}")
    with tempfile.TemporaryDirectory() as workdir:
        for label, extra, limit in (
            ("no cap", ("--max-db-size", "0", "--retention", "0"), 1 << 62),
            (f"cap {args.cap}", ("--max-db-size", args.cap, "--retention", "0"), cap),
        ):
            db = Path(workdir) / f"{label.replace(' ', '-')}.db"
            latencies, peak, settled, caught_up = _run(db, bodies, extra, limit, args.rate)
            ordered = sorted(latencies)
            print(
                f"{label:>12}: request p50 {statistics.median(ordered) * 1e3:6.1f} ms, p99"
                f" {ordered[int(len(ordered) * 0.99) - 1] * 1e3:6.1f} ms, max"
                f" {ordered[-1] * 1e3:6.1f} ms; files peak {peak / 2**20:6.1f} MiB,"
                f" idle {settled / 2**20:6.1f} MiB"
                + (f" ({caught_up:.1f} s after the load)" if limit == cap else "")
            )
        longest, steps = _longest_step(Path(workdir) / "no-cap.db", cap)
        label = f"pruning the uncapped database to {args.cap}"
        print(f"{label}: {steps} steps, the longest {longest * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
