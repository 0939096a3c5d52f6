"""`localobs up --demo`: the demo bot as a child process that localobs owns, restarts and stops.

The bot runs in its own process (llama.cpp and torch never load into the viewer) and exports to
this process's receiver like any other app would, through OTEL_EXPORTER_OTLP_ENDPOINT.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from localobs.private_files import private_opener


class DemoBot:
    """Keeps `python -m demo_bot --loop` running until `stop`; its output goes to `log_path`."""

    def __init__(
        self,
        endpoint: str,
        log_path: Path,
        *,
        extra_args: tuple[str, ...] = (),
        restart_delay_s: float = 2.0,
    ) -> None:
        self.log_path = log_path
        self.restarts = 0
        self._command = [sys.executable, "-m", "demo_bot", "--loop", *extra_args]
        self._env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        self._restart_delay_s = restart_delay_s
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name="demo-bot", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process else None

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join(timeout_s)

    def _supervise(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab", opener=private_opener) as log:
            while not self._stopping.is_set():
                process = self._spawn(log)
                if process is None:
                    return
                process.wait()
                if self._stopping.is_set():
                    return
                self.restarts += 1
                log.write(f"demo bot exited with {process.returncode}; restarting\n".encode())
                log.flush()
                self._stopping.wait(self._restart_delay_s)

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            self._process = subprocess.Popen(
                self._command,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            return self._process
