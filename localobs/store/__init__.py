"""Storage: the SQLite schema, the single writer, and the query functions readers use."""

from localobs.store.batch import Batch, Signal
from localobs.store.schema import DatabaseTooNew, NotALocalobsDatabase
from localobs.store.store import Store
from localobs.store.writer_client import BatchRejected, StoreBusy, StoreUnavailable

__all__ = [
    "Batch",
    "BatchRejected",
    "DatabaseTooNew",
    "NotALocalobsDatabase",
    "Signal",
    "Store",
    "StoreBusy",
    "StoreUnavailable",
]
