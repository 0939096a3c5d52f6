"""Delivery of the outbox to upstream OTLP endpoints, on threads of the front process.

One thread per upstream reads the outbox in commit order on its own connection, rebuilds each
batch's OTLP request from its stored rows (losslessly, as export does; the same rows give the same
bytes, so an upstream localobs recognises a resent batch), sends it, and moves that upstream's
cursor only after the upstream acknowledged it. Failures are retried with
exponential backoff (or after the delay the upstream asked for); a body the upstream refuses as
invalid is skipped and counted as dropped. A housekeeping thread deletes what every upstream has
passed and keeps the outbox under its size limit, dropping the oldest with a warning.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from localobs.credentials import mask_credentials
from localobs.store.database import connect
from localobs.store.export import stored_range
from localobs.store.outbox import (
    Dropped,
    OutboxEntry,
    enforce_limit,
    next_entries,
    record_delivery,
    record_failure,
    record_refusal,
    register_upstreams,
)
from localobs.transfer.export import sized_requests
from localobs.transfer.senders import DeliveryError, OtlpProtocol, Sender, make_sender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upstream:
    """Where to forward: an OTLP endpoint (a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT)."""

    url: str
    protocol: OtlpProtocol = "http/protobuf"
    headers: tuple[tuple[str, str], ...] = ()
    gzip: bool = True


@dataclass(frozen=True)
class ForwardOptions:
    max_bytes: int = 256 << 20
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 300.0
    poll_interval_s: float = 0.2
    housekeeping_interval_s: float = 1.0
    timeout_s: float = 10.0
    read_ahead: int = 8
    warn: Callable[[str], None] = field(default=log.warning)


def drop_warning(dropped: Dropped, reason: str) -> str:
    return mask_credentials(
        f"forwarding to {dropped.upstream}: dropped {dropped.batches} undelivered batches "
        f"({dropped.items} items): {reason} ({dropped.total_batches} dropped so far)"
    )


class Forwarder:
    """Starts and stops the delivery threads for `upstreams` of the database at `db_path`."""

    def __init__(
        self, db_path: Path, upstreams: Sequence[Upstream], options: ForwardOptions
    ) -> None:
        self._db_path = db_path
        self._upstreams = list(upstreams)
        self._options = options
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        conn = connect(self._db_path)
        try:
            register_upstreams(conn, [upstream.url for upstream in self._upstreams])
        finally:
            conn.close()
        targets: list[tuple[str, Callable[[], None]]] = [
            (f"forward-{index}", lambda u=upstream: self._deliver(u))  # type: ignore[misc]
            for index, upstream in enumerate(self._upstreams)
        ]
        targets.append(("forward-housekeeping", self._housekeep))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop after the sends in flight (bounded by the timeout); their outcome is recorded."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _deliver(self, upstream: Upstream) -> None:
        options = self._options
        sender = make_sender(
            upstream.url,
            upstream.protocol,
            upstream.headers,
            gzip=upstream.gzip,
            timeout_s=options.timeout_s,
        )
        conn = connect(self._db_path)
        backoff = options.initial_backoff_s
        try:
            while not self._stop.is_set():
                try:
                    entries = next_entries(conn, upstream.url, options.read_ahead)
                    if not entries:
                        self._stop.wait(options.poll_interval_s)
                        continue
                    for entry in entries:
                        delay = self._send(sender, conn, upstream.url, entry)
                        if delay is None:
                            backoff = options.initial_backoff_s
                            continue
                        wait_s = delay if delay > 0 else backoff * random.uniform(0.8, 1.2)
                        backoff = min(backoff * 2, options.max_backoff_s)
                        self._stop.wait(min(wait_s, options.max_retry_after_s))
                        break  # read again: the size limit may have moved the cursor meanwhile
                except sqlite3.OperationalError as exc:  # the database stayed locked: retry
                    log.warning(mask_credentials(f"forwarding to {upstream.url}: {exc}"))
                    self._stop.wait(options.max_backoff_s)
        finally:
            sender.close()
            conn.close()

    def _send(
        self, sender: Sender, conn: sqlite3.Connection, url: str, entry: OutboxEntry
    ) -> float | None:
        """Send one entry and record the outcome; None when done with it, else seconds to wait
        before retrying (0: use the backoff)."""
        page = stored_range(conn, entry.signal, entry.first_rowid, entry.last_rowid)
        notes = []
        try:
            for _part, request in sized_requests(page):
                notes.append(sender.send(entry.signal, request.SerializeToString()))
        except DeliveryError as exc:
            if exc.invalid:
                dropped = record_refusal(conn, url, entry, str(exc), time.time_ns())
                self._options.warn(drop_warning(dropped, f"the upstream refused them: {exc}"))
                return None
            record_failure(conn, url, str(exc), time.time_ns())
            return exc.retry_after_s or 0.0
        record_delivery(conn, url, entry, time.time_ns(), next(filter(None, notes), None))
        return None

    def _housekeep(self) -> None:
        conn = connect(self._db_path)
        limit_mb = self._options.max_bytes / 1e6
        try:
            while not self._stop.wait(self._options.housekeeping_interval_s):
                try:
                    dropped = enforce_limit(conn, self._options.max_bytes)
                except sqlite3.OperationalError as exc:  # busy: try again next round
                    log.debug("outbox housekeeping postponed: %s", exc)
                    continue
                for each in dropped:
                    reason = f"the outbox is over its limit of {limit_mb:g} MB"
                    self._options.warn(drop_warning(each, reason))
        finally:
            conn.close()
