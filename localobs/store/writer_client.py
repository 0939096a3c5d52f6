"""The front's handle on the writer process: submit a batch, get a future resolved after commit.

If the writer process ever dies (a bug, the OOM killer, a `kill -9`), a new one is started at
once: what was committed stays committed, batches in flight get a retry answer (ingest is
idempotent, so a retried batch that had in fact been committed is stored once), and the restart
is reported on the conditions board.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from localobs.conditions import Conditions
from localobs.store.batch import Batch
from localobs.store.framing import FrameReader, send_frame
from localobs.store.writer_protocol import Failure, StatusReport

_SOCKET_BUFFER = 8 << 20
# A writer that dies this soon after its start is failing to start: wait before the next try.
_FAST_FAILURE_S = 5.0
_MAX_RESTART_DELAY_S = 30.0

log = logging.getLogger("localobs.writer")


class StoreBusy(Exception):
    """Too much data is waiting for the writer: the client should retry later (HTTP 503)."""


class StoreUnavailable(Exception):
    """Nothing of the batch was stored, for a reason that passes: retry later (HTTP 503)."""


class BatchRejected(Exception):
    """This batch can never be stored (HTTP 400); nothing of it was."""


@dataclass
class _Writer:
    """One writer process and the front's end of its socket; `generation` counts restarts."""

    process: subprocess.Popen[bytes]
    sock: socket.socket
    generation: int
    started: float
    acker: threading.Thread = field(init=False)


@dataclass
class _Pending:
    future: Future[None]
    weight: int
    generation: int | None = None  # the writer it was sent to, once sent


class WriterClient:
    """Starts the writer process, talks to it over a socket pair, and restarts it if it dies.

    A sender thread serializes batches (so the event loop never blocks on it) and an ack thread
    per writer resolves each batch's future once the writer has committed it. Pending data is
    bounded by `max_pending_bytes`; beyond it `submit` raises `StoreBusy` instead of buffering
    without end.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        max_pending_bytes: int = 256 << 20,
        conditions: Conditions | None = None,
    ) -> None:
        self._db_path = db_path
        self._max_pending_bytes = max_pending_bytes
        self._conditions = conditions or Conditions()
        self._pending_bytes = 0
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._outbox: queue.SimpleQueue[tuple[int, Batch] | None] = queue.SimpleQueue()
        self._closed = False
        self.restarts = 0
        self._fast_failures = 0
        self._writer: _Writer | None = self._spawn(generation=0)
        self._sender = threading.Thread(target=self._send_loop, name="writer-send", daemon=True)
        self._sender.start()

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    @property
    def writer_pid(self) -> int | None:
        writer = self._writer
        return writer.process.pid if writer else None

    def submit(self, batch: Batch) -> Future[None]:
        """Queue `batch`; the future completes when it is committed, or fails with the reason."""
        future: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the store is shutting down")
            if self._writer is None:
                raise StoreUnavailable("the writer process is restarting")
            if self._pending and self._pending_bytes + batch.weight > self._max_pending_bytes:
                raise StoreBusy("too much data is waiting to be written")
            batch_id = next(self._ids)
            self._pending[batch_id] = _Pending(future, batch.weight)
            self._pending_bytes += batch.weight
        self._outbox.put((batch_id, batch))
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Let the writer commit everything already submitted, then stop it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        self._outbox.put(None)
        self._sender.join(timeout)
        writer = self._writer
        if writer is not None:
            writer.acker.join(timeout)
            try:
                writer.process.wait(timeout)
            except subprocess.TimeoutExpired:
                writer.process.kill()
                writer.process.wait()
            writer.sock.close()
        with self._lock:
            unsent = list(self._pending)
        for batch_id in unsent:  # queued while a writer was being restarted
            self._resolve(batch_id, ("retry", "the store is shutting down"))

    def _spawn(self, generation: int) -> _Writer:
        front, back = socket.socketpair()
        for sock in (front, back):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localobs.store.writer_process",
                "--db",
                str(self._db_path),
                "--fd",
                str(back.fileno()),
            ],
            pass_fds=(back.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        back.close()
        writer = _Writer(process, front, generation, time.monotonic())
        writer.acker = threading.Thread(
            target=self._ack_loop, args=(writer,), name=f"writer-ack-{generation}", daemon=True
        )
        writer.acker.start()
        return writer

    def _send_loop(self) -> None:
        while (item := self._outbox.get()) is not None:
            batch_id, batch = item
            with self._lock:
                while self._writer is None and not self._closed:
                    self._lock.wait()
                writer = self._writer
                pending = self._pending.get(batch_id)
                if writer is None or pending is None:
                    continue  # closing, or already answered
                pending.generation = writer.generation
            try:
                send_frame(writer.sock, batch.to_wire(batch_id))
            except OSError as exc:
                self._resolve(batch_id, ("retry", f"the writer process is unreachable: {exc}"))
        with self._lock:
            writer = self._writer
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.sock.shutdown(socket.SHUT_WR)

    def _ack_loop(self, writer: _Writer) -> None:
        reader = FrameReader(writer.sock)
        while frames := reader.read(block=True):
            for frame in frames:
                if isinstance(frame, dict):
                    self._status(frame)
                    continue
                for batch_id, failure in frame:
                    self._resolve(batch_id, failure)
        status = writer.process.wait()
        with self._lock:
            if self._closed:
                orphans = [
                    key for key, each in self._pending.items() if each.generation is not None
                ]
            else:
                self._writer = None
                orphans = [
                    key
                    for key, each in self._pending.items()
                    if each.generation == writer.generation
                ]
        why = f"the writer process stopped (exit status {status}) before committing; retry"
        for batch_id in orphans:
            self._resolve(batch_id, ("retry", why))
        if not self._closed:
            writer.sock.close()
            self._restart(writer, status)

    def _restart(self, dead: _Writer, status: int) -> None:
        """Start a new writer after `dead` stopped, waiting first if it keeps failing fast."""
        lived = time.monotonic() - dead.started
        self._fast_failures = self._fast_failures + 1 if lived < _FAST_FAILURE_S else 0
        delay = (
            min(_MAX_RESTART_DELAY_S, 2.0**self._fast_failures) if self._fast_failures > 1 else 0
        )
        self.restarts += 1
        log.warning("the writer process stopped (exit status %s); restarting it", status)
        self._conditions.set(
            "writer",
            "error" if delay else "warning",
            f"the writer process stopped (exit status {status}) and was restarted"
            if not delay
            else f"the writer process keeps stopping (exit status {status}); retrying",
            restarts=self.restarts,
            last_exit_status=status,
        )
        time.sleep(delay)
        with self._lock:
            if self._closed:
                return
            self._writer = self._spawn(dead.generation + 1)
            self._lock.notify_all()

    def _status(self, report: StatusReport) -> None:
        if "log" in report:
            log.warning("%s", report["log"])
        elif "clear" in report:
            self._conditions.clear(report["clear"])
        else:
            self._conditions.set(
                report["set"], report["level"], report["message"], **report.get("details", {})
            )

    def _resolve(self, batch_id: int, failure: Failure | None) -> None:
        with self._lock:
            entry = self._pending.pop(batch_id, None)
            if entry is None:
                return
            self._pending_bytes -= entry.weight
        if failure is None:
            entry.future.set_result(None)
        elif failure[0] == "reject":
            entry.future.set_exception(BatchRejected(failure[1]))
        else:
            entry.future.set_exception(StoreUnavailable(failure[1]))
