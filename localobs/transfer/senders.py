"""Sending serialized OTLP requests to an endpoint, as the OpenTelemetry exporters do.

OTLP/HTTP: a protobuf POST to `<url>/v1/<signal>` (the URL is a base, as in
OTEL_EXPORTER_OTLP_ENDPOINT), gzip-compressed. OTLP/gRPC: a unary Export call to the signal's
service. Both turn the outcome into success (with the upstream's partial-success note, if any) or a
`DeliveryError` that says whether to retry, and when.
"""

from __future__ import annotations

import email.utils
import time
import zlib
from collections.abc import Sequence
from typing import Literal, Protocol
from urllib.parse import urlsplit

import grpc
import httpx
from google.protobuf.message import DecodeError

from localobs.receiver.grpc_server import SERVICES
from localobs.receiver.pipeline import SIGNALS
from localobs.receiver.rpc_status import retry_delay_of_info, retry_delay_of_status
from localobs.store import Signal

OtlpProtocol = Literal["http/protobuf", "grpc"]
PROTOCOLS: tuple[OtlpProtocol, ...] = ("http/protobuf", "grpc")

# OTLP/HTTP: retry these; the spec's list, plus 408 (request timeout).
_RETRYABLE_HTTP = frozenset({408, 429, 502, 503, 504})
# Refused for what the data is: resending the same bytes cannot succeed.
_INVALID_HTTP = frozenset({400, 413, 415})
_RETRYABLE_GRPC = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class DeliveryError(Exception):
    """The upstream did not take the request.

    `invalid`: it refused the data itself (resending cannot help). Otherwise the caller retries,
    after `retry_after_s` when the upstream said so.
    """

    def __init__(self, message: str, *, invalid: bool = False, retry_after_s: float | None = None):
        super().__init__(message)
        self.invalid = invalid
        self.retry_after_s = retry_after_s


class Sender(Protocol):
    def send(self, signal: Signal, body: bytes) -> str | None:
        """Deliver one serialized Export*ServiceRequest; return the partial-success message."""

    def close(self) -> None: ...


def _partial_success(signal: Signal, response: bytes) -> str | None:
    try:
        message = SIGNALS[signal].response_type.FromString(response)
    except DecodeError:
        return None
    partial = message.partial_success
    rejected = getattr(partial, SIGNALS[signal].rejected_field)
    if rejected or partial.error_message:
        return f"the upstream refused {rejected} items: {partial.error_message}"
    return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as delay-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpSender:
    """OTLP/HTTP with protobuf bodies, as opentelemetry-exporter-otlp-proto-http sends them."""

    def __init__(
        self, url: str, headers: Sequence[tuple[str, str]], *, gzip: bool, timeout_s: float
    ) -> None:
        self._base = url.rstrip("/")
        self._gzip = gzip
        fixed = {"Content-Type": "application/x-protobuf"}
        if gzip:
            fixed["Content-Encoding"] = "gzip"
        self._client = httpx.Client(headers=[*headers, *fixed.items()], timeout=timeout_s)

    def send(self, signal: Signal, body: bytes) -> str | None:
        content = _gzip(body) if self._gzip else body
        try:
            response = self._client.post(f"{self._base}/v1/{signal}", content=content)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 200:
            return _partial_success(signal, response.content)
        message = f"HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code in _INVALID_HTTP:
            raise DeliveryError(message, invalid=True)
        retry_after = (
            _retry_after(response.headers.get("retry-after"))
            if response.status_code in _RETRYABLE_HTTP
            else None
        )
        raise DeliveryError(message, retry_after_s=retry_after)

    def close(self) -> None:
        self._client.close()


def _gzip(body: bytes) -> bytes:
    """gzip at level 1: forwarding competes with ingest for the CPU, bandwidth is rarely short."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


class GrpcSender:
    """OTLP/gRPC unary Export calls, as opentelemetry-exporter-otlp-proto-grpc makes them."""

    def __init__(
        self, url: str, headers: Sequence[tuple[str, str]], *, gzip: bool, timeout_s: float
    ) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme == "https":
            self._channel = grpc.secure_channel(parts.netloc, grpc.ssl_channel_credentials())
        else:
            self._channel = grpc.insecure_channel(parts.netloc)
        self._metadata = tuple((key.lower(), value) for key, value in headers)
        self._compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
        self._timeout_s = timeout_s
        self._calls = {
            signal: self._channel.unary_unary(f"/{service}/Export")
            for signal, service in SERVICES.items()
        }

    def send(self, signal: Signal, body: bytes) -> str | None:
        try:
            response = self._calls[signal](
                body,
                timeout=self._timeout_s,
                metadata=self._metadata,
                compression=self._compression,
            )
        except grpc.RpcError as exc:
            raise _grpc_error(exc) from exc
        return _partial_success(signal, response)

    def close(self) -> None:
        self._channel.close()


def _grpc_error(error: grpc.RpcError) -> DeliveryError:
    code: grpc.StatusCode = error.code()
    message = f"gRPC {code.name}: {error.details()}"
    trailers = dict(error.trailing_metadata() or ())
    delay = None
    if isinstance(details := trailers.get("grpc-status-details-bin"), bytes):
        delay = retry_delay_of_status(details)
    if delay is None and isinstance(info := trailers.get("google.rpc.retryinfo-bin"), bytes):
        delay = retry_delay_of_info(info)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return DeliveryError(message, invalid=True)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        # The spec: retry only when the server says recovery is possible (RetryInfo).
        return DeliveryError(message, invalid=delay is None, retry_after_s=delay)
    return DeliveryError(message, retry_after_s=delay if code in _RETRYABLE_GRPC else None)


def make_sender(
    url: str,
    protocol: OtlpProtocol,
    headers: Sequence[tuple[str, str]] = (),
    *,
    gzip: bool = True,
    timeout_s: float = 10.0,
) -> Sender:
    kind = GrpcSender if protocol == "grpc" else HttpSender
    return kind(url, headers, gzip=gzip, timeout_s=timeout_s)
