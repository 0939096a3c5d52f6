"""The OTLP/gRPC receiver: the Export RPCs of the trace, metrics and logs services, on grpcio.

Requests arrive as raw bytes (no request deserializer) and go through the very `decode_body` that
OTLP/HTTP bodies go through; OK is answered only after the store committed the batch. grpcio
itself decompresses gzip requests and refuses messages over `max_body` with RESOURCE_EXHAUSTED;
the memory budget shared with OTLP/HTTP refuses one beyond it the same way, with a retry delay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc

from localobs.connections import GRPC_CONNECTIONS
from localobs.receiver.bodies import BodyError, Format
from localobs.receiver.budget import MemoryBudget, OverBudget
from localobs.receiver.guards import AllowedHosts, bearer_matches
from localobs.receiver.pipeline import decode_body, export_response
from localobs.receiver.rpc_status import retry_info, rpc_status
from localobs.server import PortInUse
from localobs.store import BatchRejected, Signal, Store, StoreBusy, StoreUnavailable

RETRY_DELAY_S = 1
# Decoding is Python work: requests decoded on several threads at once only take turns at the
# GIL, each finishing later (the writer waiting for the first). One at a time, as the HTTP
# receiver's event loop decodes, took gRPC ingest from ~0.33 to ~0.39 of the raw ceiling.
_DECODING = threading.Lock()
SERVICES: dict[Signal, str] = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
}


def _retry_later(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> None:
    """Abort the RPC (`context.abort` raises) with `code` and a RetryInfo, both where the spec
    puts it (the status details) and where the Python exporter looks (`google.rpc.retryinfo-bin`).
    """
    context.set_trailing_metadata(
        (
            ("grpc-status-details-bin", rpc_status(code.value[0], message, RETRY_DELAY_S)),
            ("google.rpc.retryinfo-bin", retry_info(RETRY_DELAY_S)),
        )
    )
    context.abort(code, message)


def _authority(context: grpc.ServicerContext) -> str | None:
    """The call's :authority. grpcio keeps it out of the metadata and exposes it only on its
    private call details; None where a grpcio version lacks them (then the check is skipped:
    browsers, the reason for the check, cannot make gRPC calls anyway)."""
    details = getattr(getattr(context, "_rpc_event", None), "call_details", None)
    host = getattr(details, "host", None)
    return host.decode("latin-1") if isinstance(host, bytes) else None


def _check_caller(
    context: grpc.ServicerContext, token: str | None, allowed_hosts: AllowedHosts
) -> None:
    """Abort the RPC unless it addresses an allowed name and carries the token (when set)."""
    authority = _authority(context)
    if authority is not None and not allowed_hosts.allows(authority):
        context.abort(grpc.StatusCode.PERMISSION_DENIED, allowed_hosts.refusal(authority))
    if token is not None:
        given = dict(context.invocation_metadata()).get("authorization", "")
        if not isinstance(given, str) or not bearer_matches(given, token):
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong bearer token in the 'authorization' metadata",
            )


def _export_method(
    store: Store,
    signal: Signal,
    token: str | None,
    budget: MemoryBudget,
    allowed_hosts: AllowedHosts,
    redact: bool,
) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        _check_caller(context, token, allowed_hosts)
        with budget.hold() as hold:
            try:
                hold.add(len(request))
            except OverBudget as exc:
                _retry_later(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
            try:
                with _DECODING:
                    batch, rejections = decode_body(signal, request, Format.PROTOBUF, redact=redact)
            except BodyError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        if batch.rows or batch.resources:
            try:
                store.submit(batch).result()
            except StoreBusy as exc:
                _retry_later(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
            except StoreUnavailable as exc:
                _retry_later(context, grpc.StatusCode.UNAVAILABLE, str(exc))
            except BatchRejected as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return bytes(export_response(signal, rejections).SerializeToString())

    return export


class GrpcReceiver:
    """The gRPC listener, bound on construction so that a busy port is reported before start.

    A small thread pool serves the RPCs: each thread decodes, then waits for its batch's commit,
    so the pool bounds how many requests are decoded or waiting at once.
    """

    def __init__(
        self,
        store: Store,
        host: str,
        port: int,
        *,
        max_body: int,
        token: str | None = None,
        budget: MemoryBudget | None = None,
        allowed_hosts: AllowedHosts | None = None,
        workers: int = 8,
        redact: bool = True,
    ) -> None:
        budget = budget or MemoryBudget()
        allowed_hosts = allowed_hosts or AllowedHosts(host)
        handlers = [
            grpc.method_handlers_generic_handler(
                service,
                {
                    "Export": grpc.unary_unary_rpc_method_handler(
                        _export_method(store, signal, token, budget, allowed_hosts, redact)
                    )
                },
            )
            for signal, service in SERVICES.items()
        ]
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc-receiver"),
            handlers=handlers,
            options=[
                ("grpc.max_receive_message_length", max_body),
                # Without this a second localobs (or a collector) could share the port silently.
                ("grpc.so_reuseport", 0),
                # Beyond this grpc closes new connections at once: idle sockets on the gRPC port
                # cannot exhaust the descriptors OTLP/HTTP and /health need.
                ("grpc.max_allowed_incoming_connections", GRPC_CONNECTIONS),
            ],
        )
        self.host = host
        address = f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            self.port: int = self._server.add_insecure_port(address)
        except RuntimeError as exc:
            raise PortInUse(
                f"cannot listen for OTLP/gRPC on {host}:{port}: the port is taken. Is another "
                "localobs (or collector) running? Stop it, choose another port with "
                "--grpc-port, or turn gRPC off with --grpc-port 0."
            ) from exc

    @property
    def url(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self, grace_s: float = 30.0) -> None:
        """Refuse new RPCs, let in-flight ones finish (their batches get committed)."""
        self._server.stop(grace_s).wait()
