"""Hiding the credentials that URLs carry (`http://user:password@host`) in anything shown or logged.

Forward URLs may hold credentials; the banner, `localobs info`, /health and log lines all pass
their text through `mask_credentials`, the one place that knows what a credential looks like.
"""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from typing import Any

from localobs.store.outbox import UpstreamStatus

# scheme://user:password@ -- the password runs up to the last '@' before the host part.
_USERINFO_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s]*@", re.IGNORECASE)


def mask_credentials(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***` (the user name is kept)."""
    return _USERINFO_PASSWORD.sub(r"\1***@", text)


def masked(upstream: UpstreamStatus) -> UpstreamStatus:
    """`upstream` with the credentials in its URL and last error masked."""
    error = upstream.last_error
    return replace(
        upstream,
        upstream=mask_credentials(upstream.upstream),
        last_error=None if error is None else mask_credentials(error),
    )


def masked_status(upstream: UpstreamStatus) -> dict[str, Any]:
    """An upstream's forwarding state as JSON fields, masked: for /health and `localobs info`."""
    shown = masked(upstream)
    return asdict(shown) | {"failing": shown.failing}
