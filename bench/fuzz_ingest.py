"""A long fuzzing campaign of the ingest path: tests/test_fuzz_ingest.py with many more examples.

    .venv/bin/python bench/fuzz_ingest.py [--examples 2000] [--seed N]

The suite runs a few dozen hostile requests per signal; this runs `--examples` per signal (traces,
logs, metrics) through the same real receiver and writer, with the same checks (no 500, every 200
committed, the writer alive, earlier rows intact, no unforeseen decoder or normalizer failure).
It prints the outcome and the rate, in hostile requests per second. A failure prints the smallest
falsifying request Hypothesis found; `--seed` replays a campaign.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIGNALS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="hostile requests per signal")
    parser.add_argument("--seed", type=int, help="Hypothesis seed, to replay a campaign")
    args = parser.parse_args()
    command = [sys.executable, "-m", "pytest", "tests/test_fuzz_ingest.py", "-q", "-x"]
    command += ["-p", "no:cacheprovider", "--timeout", "0"]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    env = {**os.environ, "LOCALOBS_FUZZ_EXAMPLES": str(args.examples)}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    elapsed = time.perf_counter() - started
    requests = args.examples * SIGNALS
    outcome = "passed" if result.returncode == 0 else "FAILED"
    print(
        f"fuzz_ingest: {outcome}: {requests} hostile requests ({args.examples} per signal)"
        f" in {elapsed:.0f} s, {requests / elapsed:.1f} requests/s (each followed by a probe span)"
    )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
