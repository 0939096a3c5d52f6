"""The `localobs` command line. Thin: each command wires the store, receiver and viewers together.

Commands live in their own modules and register themselves on `main`.
"""

from localobs.cli import (
    agents,
    calls,
    inspect,
    replay,
    retention,
    trace_compare,
    transfer,
    up,
    view,
)
from localobs.cli.group import main

__all__ = [
    "agents",
    "calls",
    "inspect",
    "main",
    "replay",
    "retention",
    "trace_compare",
    "transfer",
    "up",
    "view",
]
