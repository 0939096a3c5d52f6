"""The `localobs` command line. Thin: each command wires the store, receiver and viewers together.

Commands live in their own modules and register themselves on `main`.
"""

from localobs.cli import calls, inspect, retention, transfer, up, view
from localobs.cli.group import main

__all__ = ["calls", "inspect", "main", "retention", "transfer", "up", "view"]
