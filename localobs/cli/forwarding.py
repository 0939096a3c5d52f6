"""`localobs up --forward URL ...`: the options, and the forwarder they configure."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from localobs.credentials import mask_credentials, masked
from localobs.literal import visible
from localobs.store import Store
from localobs.store.outbox import UpstreamStatus


def header_pairs(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> Any:
    """Click callback: KEY=VALUE options as (key, value) pairs."""
    pairs = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        pairs.append((key.strip(), text))
    return tuple(pairs)


@dataclass(frozen=True)
class ForwardSettings:
    """What the --forward* options of `localobs up` ask for."""

    urls: tuple[str, ...]
    protocol: str
    headers: tuple[tuple[str, str], ...]
    compression: str
    max_mb: float
    max_backoff_s: float

    def banner(self) -> str:
        urls = ", ".join(mask_credentials(url) for url in dict.fromkeys(self.urls))
        return (
            f"Forwarding everything stored to {urls} "
            f"({self.protocol}); undelivered data is kept up to {self.max_mb:g} MB"
        )

    def start(self, store: Store, warn: Callable[[str], None]) -> Callable[[], None]:
        """Start delivering the outbox of `store`; returns the function that stops it.

        Call before the receivers accept data: an upstream seen for the first time gets what is
        committed after this.
        """
        from localobs.transfer.forwarder import Forwarder, ForwardOptions, Upstream

        upstreams = [
            Upstream(url, self.protocol, self.headers, self.compression == "gzip")  # type: ignore[arg-type]
            for url in dict.fromkeys(self.urls)
        ]
        options = ForwardOptions(
            max_bytes=int(self.max_mb * 1e6),
            max_backoff_s=self.max_backoff_s,
            initial_backoff_s=min(0.5, self.max_backoff_s),
            warn=warn,
        )
        forwarder = Forwarder(Path(store.path), upstreams, options)
        forwarder.start()
        return forwarder.stop


_OPTIONS = [
    click.option(
        "--forward",
        multiple=True,
        metavar="URL",
        help="Also send everything stored on to this OTLP endpoint (repeatable). A base URL, "
        "as OTEL_EXPORTER_OTLP_ENDPOINT: /v1/traces etc. are appended for http/protobuf.",
    ),
    click.option(
        "--forward-protocol",
        type=click.Choice(["http/protobuf", "grpc"]),
        default="http/protobuf",
        show_default=True,
        help="How to send upstream (the values of OTEL_EXPORTER_OTLP_PROTOCOL).",
    ),
    click.option(
        "--forward-header",
        multiple=True,
        metavar="KEY=VALUE",
        callback=header_pairs,
        help="A header (gRPC: metadata) sent with every forwarded request (repeatable).",
    ),
    click.option(
        "--forward-compression",
        type=click.Choice(["gzip", "none"]),
        default="gzip",
        show_default=True,
    ),
    click.option(
        "--forward-max-mb",
        type=click.FloatRange(min=0, min_open=True),
        default=256.0,
        show_default=True,
        help="Size of the outbox of undelivered data; beyond it the oldest is dropped, "
        "with a warning.",
    ),
    click.option(
        "--forward-max-backoff",
        type=click.FloatRange(min=0, min_open=True),
        default=30.0,
        show_default=True,
        help="Longest wait in seconds between retries to an upstream that fails.",
    ),
]


def forward_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the --forward* options; the command gets them as one `forwarding` argument
    (ForwardSettings, or None without --forward)."""

    @functools.wraps(command)
    def with_forwarding(
        *args: Any,
        forward: tuple[str, ...],
        forward_protocol: str,
        forward_header: tuple[tuple[str, str], ...],
        forward_compression: str,
        forward_max_mb: float,
        forward_max_backoff: float,
        **kwargs: Any,
    ) -> Any:
        settings = ForwardSettings(
            forward,
            forward_protocol,
            forward_header,
            forward_compression,
            forward_max_mb,
            forward_max_backoff,
        )
        return command(*args, forwarding=settings if forward else None, **kwargs)

    wrapped: Callable[..., Any] = with_forwarding
    for option in reversed(_OPTIONS):
        wrapped = option(wrapped)
    return wrapped


def describe(upstream: UpstreamStatus) -> str:
    """One line of forwarding state, for `localobs info` (and the TUI header); credentials
    masked."""
    upstream = masked(upstream)
    text = (
        f"{upstream.upstream}: delivered {upstream.delivered_items} items, "
        f"pending {upstream.pending_items} ({upstream.pending_bytes / 1e6:.1f} MB), "
        f"dropped {upstream.dropped_items}"
    )
    if upstream.failing:
        text += f", failing: {visible(str(upstream.last_error))}"
    return text
