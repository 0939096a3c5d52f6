"""Ingest throughput with forwarding on against forwarding off, measured in the same run.

    .venv/bin/python bench/forward.py [--spans 100000] [--runs 5] [--senders 4] [--with-upstream]

Each run POSTs the same bodies (bench/ingest.py's: 512 chat spans of ~1 KB per request) to a
fresh `localobs up --headless`, once without forwarding and once with `--forward` to an upstream
that is down (a closed port): what forwarding costs ingest is then the outbox write of each body in
the batch's transaction, and the delivery thread's retries. The order alternates between runs. It
prints spans/s of both and their ratio per run, and the median ratio (target: >= 0.9).

--with-upstream adds a third measurement per run: forwarding to a second `localobs up` that is
running, and how long until the upstream holds everything. On a 2-core machine the upstream
competes with the forwarder for the CPU, so that figure is context, not the target.
"""

from __future__ import annotations

import argparse
import http.client
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import send_in_parallel, start_localobs
from bench.ingest import _sender
from bench.otlp_load import SPANS_PER_REQUEST, trace_body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, path: str) -> bytes:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path)
    return conn.getresponse().read()


def ingest(
    bodies: list[bytes], db: Path, senders: int, *extra: str
) -> tuple[float, subprocess.Popen[str]]:
    """Spans/s through a fresh `localobs up` with `extra` options; returns it still running."""
    process, url = start_localobs(db, *extra)
    _get(url, "/health")
    elapsed, failures = send_in_parallel(_sender, url, bodies, senders)
    if failures:
        raise SystemExit(f"the receiver refused batches: {failures[:3]}")
    return len(bodies) * SPANS_PER_REQUEST / elapsed, process


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(60)


def with_upstream(bodies: list[bytes], workdir: Path, senders: int) -> tuple[float, float]:
    """(spans/s ingested while forwarding to a live upstream, seconds until it held all)."""
    upstream, upstream_url = start_localobs(workdir / "upstream.db")
    began = time.perf_counter()
    per_s, process = ingest(bodies, workdir / "forwarding.db", senders, "--forward", upstream_url)
    total = len(bodies) * SPANS_PER_REQUEST
    while b'"spans":%d' % total not in _get(upstream_url, "/health").replace(b" ", b""):
        time.sleep(0.1)
    delivered_s = time.perf_counter() - began
    stop(process)
    stop(upstream)
    return per_s, delivered_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--with-upstream", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    requests = max(1, args.spans // SPANS_PER_REQUEST)
    ratios = []
    for run in range(1, args.runs + 1):
        bodies = [trace_body(rng) for _ in range(requests)]
        down = f"http://127.0.0.1:{free_port()}"
        with tempfile.TemporaryDirectory(prefix="localobs-bench-") as tmp:
            workdir = Path(tmp)
            figures = {}
            order = ["off", "on"] if run % 2 else ["on", "off"]
            for mode in order:
                extra = ["--forward", down] if mode == "on" else []
                per_s, process = ingest(bodies, workdir / f"{mode}.db", args.senders, *extra)
                stop(process)
                figures[mode] = per_s
            ratio = figures["on"] / figures["off"]
            ratios.append(ratio)
            line = (
                f"run {run}: off {figures['off']:8.0f} spans/s   on (upstream down) "
                f"{figures['on']:8.0f} spans/s   ratio {ratio:.2f}"
            )
            if args.with_upstream:
                live_s, delivered_s = with_upstream(bodies, workdir, args.senders)
                line += f"   on (upstream up) {live_s:8.0f} spans/s, all delivered in "
                line += f"{delivered_s:.1f} s"
            print(line, flush=True)
    print(
        f"median ratio forwarding on / off: {statistics.median(ratios):.2f} "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}) over {args.runs} runs, "
        f"{requests * SPANS_PER_REQUEST} spans a run, {args.senders} senders"
    )


if __name__ == "__main__":
    main()
