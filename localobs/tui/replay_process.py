"""`localobs replay --json-lines` as a child process of the viewer.

The viewer never loads a model or writes the database itself: the child does both (through its
own model worker and store writer) and reports each run as a JSON line. Stopping it with
SIGTERM keeps the runs it finished and stores nothing of the one in progress.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


class ReplayProcess:
    def __init__(
        self, db: Path, call_id: int, runs: int, temperatures: tuple[float, ...] = ()
    ) -> None:
        sweep = ["--temperature", ",".join(f"{t:g}" for t in temperatures)] if temperatures else []
        # stderr must not reach the terminal the viewer draws on.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "localobs", "replay", str(call_id), "--db", str(db)]
            + ["-n", str(runs), "--json-lines", *sweep],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def events(self) -> Iterator[dict[str, Any]]:
        """Each event line until the child exits; a child that died unannounced ends with an
        `error` event."""
        stdout = self._process.stdout
        assert stdout is not None
        finished = False
        for line in stdout:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            # An `error` event (no such call, nothing to replay) ends the child too.
            finished = finished or event.get("event") in ("done", "error")
            yield event
        status = self._process.wait()
        stdout.close()
        if not finished:
            yield {"event": "done", "stored": None, "error": f"replay exited with status {status}"}

    def cancel(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
