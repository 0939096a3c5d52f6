"""What every screen needs from the app: reader connections, the clock, and the user's choices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from localobs.tui.refresh import ReaderPool


@dataclass
class ViewerContext:
    readers: ReaderPool
    clock: Callable[[], int]
    """Unix nanoseconds now; fixed in tests so windows and snapshots are deterministic."""
    tz: tzinfo | None
    """Time zone for times of day; None is the local zone."""
    endpoint_url: str | None
    """Where the receiver listens; None when only viewing a database."""
    export_dir: Path
    totals_window_s: float | None
    """The header totals' window; None for all data."""
    log_path: Path | None = None
    """Where log records go while the viewer owns the terminal."""
    grpc_url: str | None = None
    """Where the receiver listens for OTLP/gRPC; None when it does not."""
    marked_call_id: int | None = None
    """The call `m` marked, compared with the selected one by `=`."""
    marked_trace_id: str | None = None
    """The trace `m` marked on the trace view, compared with the shown one by `=`."""
    components_window: int = 1
    """The components screen's window (an index of its WINDOWS), kept when it is reopened."""
    db_path: Path | None = None
    """The database file, for child processes that write to it (replays); None in tests that
    read through a connection factory."""
    components_plots: bool = False
    """The components screen shows plots (`h`) instead of the span table and sparklines."""
    components_seen: dict[int, tuple[float, Any]] = field(default_factory=dict)
    """Per window: when the last components query started (monotonic) and its result."""
    toggle_kept: Callable[[str], bool] | None = None
    """Keep a trace from retention or release it (True: kept now); None for a read-only view."""
