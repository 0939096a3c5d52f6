"""`localobs up --demo`: the demo bot as a child process that localobs owns, restarts and stops.

The bot runs in its own process (llama.cpp and torch never load into the viewer) and exports to
this process's receiver like any other app would, through OTEL_EXPORTER_OTLP_ENDPOINT.

Its state is published on the conditions board (source "demo"), so the viewer, `/health` and
`localobs info` can say that it is starting, running, or crashed, rather than leaving an empty
screen that waits for calls that will never come. A bot that keeps dying soon after its start
(a model that cannot load, a llama.cpp that crashes on this CPU) is given up on after a few tries.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from demo_bot import READY_LINE
from localobs.conditions import Conditions, Level
from localobs.literal import visible
from localobs.private_files import private_opener

SOURCE = "demo"
LOG_TAIL_LINES = 12
_LINE_LIMIT = 1 << 16  # a line longer than this is cut into pieces (streamed text has few breaks)
_READY = READY_LINE.encode()

State = Literal["starting", "running", "crashed", "gave up"]


@dataclass(frozen=True)
class DemoStatus:
    """One state change of the bot, as published on the board and given to `on_change`."""

    state: State
    message: str
    restarts: int
    exit_status: int | None = None
    log_tail: tuple[str, ...] = field(default=())

    @property
    def level(self) -> Level:
        if self.state in ("crashed", "gave up"):
            return "error"
        return "warning" if self.state == "starting" and self.exit_status is not None else "info"


def describe_exit(status: int) -> str:
    """`-11` -> "status -11 (SIGSEGV)": Popen reports death by a signal as its negative number."""
    if status < 0:
        try:
            return f"status {status} ({signal.Signals(-status).name})"
        except ValueError:
            pass
    return f"status {status}"


class DemoBot:
    """Keeps `python -m demo_bot --loop` running until `stop`; its output goes to `log_path`.

    "running" means the bot printed `READY_LINE`, i.e. its first question went through the model;
    before that it is "starting". After `max_fast_failures` exits in a row, each within
    `fast_failure_s` of its start, it is not restarted again ("gave up").
    """

    def __init__(
        self,
        endpoint: str,
        log_path: Path,
        conditions: Conditions,
        *,
        extra_args: tuple[str, ...] = (),
        command: Sequence[str] | None = None,
        restart_delay_s: float = 2.0,
        max_fast_failures: int = 3,
        fast_failure_s: float = 120.0,
        on_change: Callable[[DemoStatus], None] | None = None,
    ) -> None:
        self.log_path = log_path
        self.restarts = 0
        self._command = (
            list(command) if command else [sys.executable, "-m", "demo_bot", "--loop", *extra_args]
        )
        # Unbuffered, so the log (and its tail in the viewer) is current; a fault handler, so a
        # crash in llama.cpp leaves a Python stack in the log rather than nothing.
        self._env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "PYTHONUNBUFFERED": "1",
            "PYTHONFAULTHANDLER": "1",
        }
        self._conditions = conditions
        self._on_change = on_change
        self._restart_delay_s = restart_delay_s
        self._max_fast_failures = max_fast_failures
        self._fast_failure_s = fast_failure_s
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._last_exit: int | None = None
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
        self._conditions.clear(SOURCE)

    # -- supervision (its own thread) ----------------------------------------------------------

    def _supervise(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        fast_failures = 0
        with open(self.log_path, "ab", opener=private_opener) as log:
            while not self._stopping.is_set():
                started = time.monotonic()
                process = self._spawn(log)
                if process is None:
                    return
                self._publish_start(process.pid)
                self._copy_output(process, log)
                process.wait()
                if self._stopping.is_set():
                    return
                status = process.returncode
                self._last_exit = status
                fast = time.monotonic() - started < self._fast_failure_s
                fast_failures = fast_failures + 1 if fast else 0
                if fast_failures >= self._max_fast_failures:
                    self._note(log, f"demo bot exited with {status}; not restarting it")
                    self._publish(
                        "gave up",
                        f"demo bot gave up: exit {describe_exit(status)}, {fast_failures} "
                        f"times in a row within {self._fast_failure_s:g} s of starting; "
                        f"its output: {self.log_path}",
                    )
                    return
                self._note(log, f"demo bot exited with {status}; restarting")
                self._publish(
                    "crashed",
                    f"demo bot exited with {describe_exit(status)}; restarting it in "
                    f"{self._restart_delay_s:g} s",
                )
                if self._stopping.wait(self._restart_delay_s):
                    return
                self.restarts += 1

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            self._process = subprocess.Popen(
                self._command,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            return self._process

    def _copy_output(self, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        """Copy the bot's output into the log until it closes it, keeping the last lines."""
        assert process.stdout is not None
        ready = False
        with process.stdout as output:
            for line in iter(lambda: output.readline(_LINE_LIMIT), b""):
                log.write(line)
                log.flush()
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                if text.strip(" ^~"):  # not blank, not one of Python's caret lines
                    self._tail.append(visible(text))
                if not ready and line.startswith(_READY):
                    ready = True
                    self._publish_running(process.pid)

    def _note(self, log: IO[bytes], line: str) -> None:
        """A line of ours in the log between runs (not in the tail: the state says it)."""
        log.write(f"{line}\n".encode())
        log.flush()

    # -- state ---------------------------------------------------------------------------------

    def _publish_start(self, pid: int) -> None:
        if self._last_exit is None:
            message = "demo bot starting: loading its models, then asking its first question"
        else:
            message = (
                f"demo bot restarting (restart {self.restarts}) after it exited with "
                f"{describe_exit(self._last_exit)}"
            )
        self._publish("starting", message, pid=pid)

    def _publish_running(self, pid: int) -> None:
        message = "demo bot running"
        if self._last_exit is not None:
            message += f" (restarts: {self.restarts}; last exit {describe_exit(self._last_exit)})"
        self._publish("running", message, pid=pid)

    def _publish(self, state: State, message: str, *, pid: int | None = None) -> None:
        crashed = state in ("crashed", "gave up")
        status = DemoStatus(
            state=state,
            message=message,
            restarts=self.restarts,
            exit_status=self._last_exit,
            log_tail=tuple(self._tail) if self._last_exit is not None else (),
        )
        details: dict[str, object] = {
            "state": state,
            "restarts": status.restarts,
            "log_path": str(self.log_path),
        }
        if pid is not None and not crashed:
            details["pid"] = pid
        if status.exit_status is not None:
            details["exit_status"] = status.exit_status
            details["log_tail"] = list(status.log_tail)
        self._conditions.set(SOURCE, status.level, message, **details)
        if self._on_change is not None:
            self._on_change(status)
