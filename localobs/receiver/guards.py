"""Who may talk to the receiver: the bearer token and the names it answers to (DNS rebinding).

One home for both rules, used by OTLP/HTTP (headers) and OTLP/gRPC (metadata, :authority).
"""

from __future__ import annotations

import hmac
import ipaddress

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_ANY_ADDRESS = frozenset({"0.0.0.0", "::"})


def bearer_matches(authorization: str, token: str) -> bool:
    """Whether an `Authorization` value carries `token` in the Bearer scheme, whose name is
    case-insensitive (RFC 7235: `bearer T` is `Bearer T`)."""
    scheme, _, credentials = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    )


def host_name(authority: str) -> str:
    """The host of a `Host` header or `:authority` value, without port, brackets, final dot and
    case: `[::1]:4318` -> `::1`, `LocalHost.:80` -> `localhost`."""
    text = authority.strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class AllowedHosts:
    """The names a request may address the receiver by.

    A web page whose name an attacker rebinds to 127.0.0.1 reaches the receiver with its own
    name in `Host`; only loopback names and addresses, the address the receiver listens on and
    the names given with --allow-host are accepted. An IP literal cannot be rebound, so any is
    accepted when the receiver listens on every address (0.0.0.0 or ::).
    """

    def __init__(self, listen_host: str, extra: tuple[str, ...] = ()) -> None:
        self._names = {host_name(listen_host), *(host_name(each) for each in extra)}
        self._any_ip = host_name(listen_host) in _ANY_ADDRESS

    def allows(self, authority: str) -> bool:
        name = host_name(authority)
        if name in _LOOPBACK_NAMES or name in self._names:
            return True
        address = _ip(name)
        return address is not None and (address.is_loopback or self._any_ip)

    def refusal(self, authority: str) -> str:
        return (
            f"this receiver does not answer to the name {authority!r} (a web page may be trying "
            "DNS rebinding); use localhost or 127.0.0.1, or allow the name with --allow-host"
        )
