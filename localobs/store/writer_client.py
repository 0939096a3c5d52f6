"""The front's handle on the writer process: submit a batch, get a future resolved after commit."""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

from localobs.store.batch import Batch
from localobs.store.framing import FrameReader, send_frame

_SOCKET_BUFFER = 8 << 20


class StoreBusy(Exception):
    """Too much data is waiting for the writer: the client should retry later (HTTP 503)."""


class StoreUnavailable(Exception):
    """The writer process is gone or failed to commit: nothing of the batch was stored."""


class WriterClient:
    """Starts the writer process and talks to it over a socket pair.

    A sender thread serializes batches (so the event loop never blocks on it) and an ack thread
    resolves each batch's future once the writer has committed it. Pending data is bounded by
    `max_pending_bytes`; beyond it `submit` raises `StoreBusy` instead of buffering without end.
    """

    def __init__(self, db_path: Path, *, max_pending_bytes: int = 256 << 20) -> None:
        self._max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self._pending: dict[int, tuple[Future[None], int]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._outbox: queue.SimpleQueue[tuple[int, Batch] | None] = queue.SimpleQueue()
        self._closed = False
        front, back = socket.socketpair()
        for sock in (front, back):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        self._sock = front
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localobs.store.writer_process",
                "--db",
                str(db_path),
                "--fd",
                str(back.fileno()),
            ],
            pass_fds=(back.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        back.close()
        self._sender = threading.Thread(target=self._send_loop, name="writer-send", daemon=True)
        self._acker = threading.Thread(target=self._ack_loop, name="writer-ack", daemon=True)
        self._sender.start()
        self._acker.start()

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def submit(self, batch: Batch) -> Future[None]:
        """Queue `batch`; the future completes when it is committed, or fails with the reason."""
        future: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the store is shutting down")
            if not self._acker.is_alive():
                raise StoreUnavailable("the writer process has stopped")
            if self._pending and self._pending_bytes + batch.weight > self._max_pending_bytes:
                raise StoreBusy("too much data is waiting to be written")
            batch_id = next(self._ids)
            self._pending[batch_id] = (future, batch.weight)
            self._pending_bytes += batch.weight
        self._outbox.put((batch_id, batch))
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Let the writer commit everything already submitted, then stop it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._outbox.put(None)
        self._sender.join(timeout)
        self._acker.join(timeout)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._sock.close()

    def _send_loop(self) -> None:
        while (item := self._outbox.get()) is not None:
            batch_id, batch = item
            try:
                send_frame(self._sock, batch.to_wire(batch_id))
            except OSError as exc:
                self._resolve(batch_id, f"writer process unreachable: {exc}")
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def _ack_loop(self) -> None:
        reader = FrameReader(self._sock)
        while frames := reader.read(block=True):
            for acks in frames:
                for batch_id, error in acks:
                    self._resolve(batch_id, error)
        with self._lock:
            orphans = list(self._pending)
        for batch_id in orphans:
            self._resolve(batch_id, "the writer process stopped before committing")

    def _resolve(self, batch_id: int, error: str | None) -> None:
        with self._lock:
            entry = self._pending.pop(batch_id, None)
            if entry is None:
                return
            future, weight = entry
            self._pending_bytes -= weight
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(StoreUnavailable(error))
