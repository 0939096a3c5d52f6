"""Replaying stored telemetry as OTLP: to an endpoint, or to an OTLP JSON lines file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from google.protobuf.message import Message

from localobs.store import Signal
from localobs.store.export import ExportFilter, StoredPage, stored_pages
from localobs.store.redactions import RedactionSummary, redaction_summary
from localobs.transfer.otlp_file import to_json_line
from localobs.transfer.rebuild import REBUILDERS
from localobs.transfer.senders import DeliveryError, Sender

SIGNALS: tuple[Signal, ...] = ("traces", "logs", "metrics")
# Below the 4 MiB that gRPC servers (the Collector's included) accept by default.
MAX_REQUEST_BYTES = 2 << 20


@dataclass
class ExportResult:
    """Items and requests per signal; `failed` lists what an endpoint did not take; `redaction`
    says whether the stored content went through redaction at ingest."""

    redaction: RedactionSummary
    items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    requests: int = 0
    failed: list[str] = field(default_factory=list)


def _redaction_note(summary: RedactionSummary) -> dict[str, Any]:
    """What each exported line says about redaction, under the top-level key "localobs"."""
    note: dict[str, Any] = {
        "contentRedacted": summary.complete,
        "credentialsRedacted": summary.total,
    }
    if not summary.complete:
        note["unredactedBatches"] = summary.unredacted_batches
    return {"localobs": note}


def requests(
    conn: sqlite3.Connection, selection: ExportFilter, signals: tuple[Signal, ...] = SIGNALS
) -> Iterator[tuple[StoredPage, Message]]:
    """Each page of stored rows with its OTLP request (see `sized_requests`)."""
    for signal in signals:
        for page in stored_pages(conn, signal, selection):
            yield from sized_requests(page)


def sized_requests(page: StoredPage) -> Iterator[tuple[StoredPage, Message]]:
    """The page's OTLP request; pages whose request would be too large are split (repeatedly)
    in halves."""
    request = REBUILDERS[page.signal](page)
    if len(page.rows) > 1 and request.ByteSize() > MAX_REQUEST_BYTES:
        half = len(page.rows) // 2
        for rows in (page.rows[:half], page.rows[half:]):
            yield from sized_requests(StoredPage(page.signal, rows, page.resources, page.scopes))
    else:
        yield page, request


def export_to_file(
    conn: sqlite3.Connection, selection: ExportFilter, out: IO[bytes]
) -> ExportResult:
    result = ExportResult(redaction_summary(conn))
    note = _redaction_note(result.redaction)
    for page, request in requests(conn, selection):
        out.write(to_json_line(request, note))
        result.items[page.signal] += len(page.rows)
        result.requests += 1
    return result


def export_to_endpoint(
    conn: sqlite3.Connection,
    selection: ExportFilter,
    sender: Sender,
    *,
    attempts: int = 5,
    backoff_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportResult:
    """Send every request, retrying what may succeed later; what the endpoint refuses is listed
    in `failed` and the export goes on."""
    result = ExportResult(redaction_summary(conn))
    for page, request in requests(conn, selection):
        body = request.SerializeToString()
        for attempt in range(attempts):
            try:
                sender.send(page.signal, body)
            except DeliveryError as exc:
                if exc.invalid or attempt == attempts - 1:
                    result.failed.append(f"{page.signal}: {len(page.rows)} items: {exc}")
                    break
                sleep(exc.retry_after_s or backoff_s * 2**attempt)
            else:
                result.items[page.signal] += len(page.rows)
                result.requests += 1
                break
    return result
