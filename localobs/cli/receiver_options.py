"""`localobs up`'s options that bound what clients may take: memory, names, connection time."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from localobs.connections import ConnectionLimits

if TYPE_CHECKING:
    from localobs.receiver.budget import MemoryBudget
    from localobs.receiver.guards import AllowedHosts

_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KIB|MB|MIB|GB|GIB)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "KIB": 2**10, "MB": 10**6, "MIB": 2**20, "GB": 10**9, "GIB": 2**30}


def parse_size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a size such as 64MiB or 1000000")
    return int(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]


@dataclass(frozen=True)
class ReceiverSettings:
    """What the options ask for; the receivers' objects are built on demand (they import the
    receiver, which commands other than `up` never need)."""

    max_inflight: int
    allow_hosts: tuple[str, ...]
    limits: ConnectionLimits

    def memory_budget(self) -> MemoryBudget:
        """A budget to share between the OTLP/HTTP and OTLP/gRPC receivers."""
        from localobs.receiver.budget import MemoryBudget

        return MemoryBudget(self.max_inflight)

    def allowed_hosts(self, listen_host: str) -> AllowedHosts:
        from localobs.receiver.guards import AllowedHosts

        return AllowedHosts(listen_host, self.allow_hosts)


_SECONDS = click.FloatRange(min=0, min_open=True)
_OPTIONS = [
    click.option(
        "--max-inflight",
        default="256MiB",
        envvar="LOCALOBS_MAX_INFLIGHT",
        show_default=True,
        help="Memory that all request bodies being inflated or decoded may take at once; "
        "beyond it requests are refused as retryable (HTTP 503, gRPC RESOURCE_EXHAUSTED).",
    ),
    click.option(
        "--allow-host",
        multiple=True,
        metavar="NAME",
        envvar="LOCALOBS_ALLOW_HOST",
        help="A name (besides localhost, loopback addresses and HOST) that clients may use in "
        "Host / :authority (repeatable); others are refused, against DNS rebinding.",
    ),
    click.option(
        "--idle-timeout",
        type=_SECONDS,
        default=ConnectionLimits.idle_timeout_s,
        envvar="LOCALOBS_IDLE_TIMEOUT",
        show_default=True,
        help="Seconds a connection may stay open without a request in progress.",
    ),
    click.option(
        "--read-timeout",
        type=_SECONDS,
        default=ConnectionLimits.read_timeout_s,
        envvar="LOCALOBS_READ_TIMEOUT",
        show_default=True,
        help="Seconds a request's headers may take to arrive, and its body may pause.",
    ),
]


def receiver_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the options above; the command gets them as one `receiver` (ReceiverSettings)."""

    @functools.wraps(command)
    def with_receiver_settings(
        *args: Any,
        max_inflight: str,
        allow_host: tuple[str, ...],
        idle_timeout: float,
        read_timeout: float,
        **kwargs: Any,
    ) -> Any:
        try:
            budget = parse_size(max_inflight)
        except click.BadParameter as exc:
            raise click.BadParameter(exc.message, param_hint="'--max-inflight'") from exc
        settings = ReceiverSettings(
            budget, allow_host, ConnectionLimits(idle_timeout, read_timeout)
        )
        return command(*args, receiver=settings, **kwargs)

    wrapped: Callable[..., Any] = with_receiver_settings
    for option in reversed(_OPTIONS):
        wrapped = option(wrapped)
    return wrapped
