"""Importing OTLP JSON lines (ours, or the Collector's file exporter's) through the ingest path."""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field

from localobs.receiver.bodies import BodyError, Format
from localobs.receiver.pipeline import decode_body
from localobs.store import Batch, Store, StoreBusy
from localobs.transfer.otlp_file import NotOtlpJson, signal_of

_IN_FLIGHT = 64


@dataclass
class ImportResult:
    items: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)


def import_lines(store: Store, lines: Iterable[bytes], *, redact: bool = True) -> ImportResult:
    """Decode each line as the receiver decodes an OTLP/JSON body (credentials redacted unless
    `redact` is False) and commit it; returns once everything is committed. Lines that cannot be
    read are reported, not fatal."""
    result = ImportResult()
    pending: list[Future[None]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            signal = signal_of(line)
            batch, rejections = decode_body(signal, line, Format.JSON, redact=redact)
        except (NotOtlpJson, BodyError) as exc:
            result.problems.append(f"line {number}: {exc}")
            continue
        result.rejected += rejections.count
        result.items[signal] = result.items.get(signal, 0) + len(batch.rows)
        if batch.rows or batch.resources:
            pending.append(_submit(store, batch))
        if len(pending) >= _IN_FLIGHT:
            pending.pop(0).result()
    for future in pending:
        future.result()
    return result


def _submit(store: Store, batch: Batch) -> Future[None]:
    while True:
        try:
            return store.submit(batch)
        except StoreBusy:
            time.sleep(0.05)
