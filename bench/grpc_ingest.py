"""OTLP/gRPC ingest against OTLP/HTTP and the raw SQLite ceiling, on the same bodies.

    .venv/bin/python bench/grpc_ingest.py [--spans 200000] [--runs 5] [--senders 4]

Each run measures back to back, on the bodies of bench/ingest.py (512 chat spans of ~1 KB per
request): the ceiling (bench/ingest.py's), the HTTP receiver (bench/ingest.py's run) and the gRPC
listener of a fresh `localobs up --headless` fed by concurrent senders making raw TraceService
Export calls. It prints both ratios to the ceiling per run and their medians; the gRPC ratio is to
reach at least the HTTP one.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import send_in_parallel, start_localobs
from bench.ingest import ceiling, receiver_run
from bench.otlp_load import SPANS_PER_REQUEST, trace_body
from localobs.receiver.grpc_server import SERVICES


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sender(target: str, bodies: list[bytes], failures: list[str]) -> None:
    with grpc.insecure_channel(target) as channel:
        export = channel.unary_unary(f"/{SERVICES['traces']}/Export")
        for body in bodies:
            while True:
                try:
                    export(body, timeout=120)
                except grpc.RpcError as exc:
                    if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                        time.sleep(0.05)
                        continue
                    failures.append(f"{exc.code()}: {exc.details()}")
                break


def grpc_run(bodies: list[bytes], workdir: Path, senders: int) -> float:
    """Spans/s through the gRPC listener of `localobs up --headless`."""
    port = free_port()
    process, _url = start_localobs(workdir / "grpc.db", "--grpc-port", str(port))
    target = f"127.0.0.1:{port}"
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
    elapsed, failures = send_in_parallel(_sender, target, bodies, senders)
    process.terminate()
    process.wait(60)
    if failures:
        raise SystemExit(f"the gRPC listener refused batches: {failures[:3]}")
    return len(bodies) * SPANS_PER_REQUEST / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    requests = max(1, args.spans // SPANS_PER_REQUEST)
    http_ratios, grpc_ratios = [], []
    for run in range(1, args.runs + 1):
        bodies = [trace_body(rng) for _ in range(requests)]
        with tempfile.TemporaryDirectory(prefix="localobs-bench-") as tmp:
            rows_per_s = ceiling(bodies, Path(tmp))
            http_per_s = receiver_run(bodies, Path(tmp), args.senders).spans_per_s
            grpc_per_s = grpc_run(bodies, Path(tmp), args.senders)
        http_ratios.append(http_per_s / rows_per_s)
        grpc_ratios.append(grpc_per_s / rows_per_s)
        print(
            f"run {run}: ceiling {rows_per_s:8.0f} rows/s   HTTP {http_per_s:8.0f} spans/s "
            f"({http_ratios[-1]:.2f})   gRPC {grpc_per_s:8.0f} spans/s ({grpc_ratios[-1]:.2f})",
            flush=True,
        )
    print(
        f"median ratio to the ceiling: HTTP {statistics.median(http_ratios):.2f}, "
        f"gRPC {statistics.median(grpc_ratios):.2f} over {args.runs} runs, "
        f"{requests * SPANS_PER_REQUEST} spans a run, {args.senders} senders"
    )


if __name__ == "__main__":
    main()
