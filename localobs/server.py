"""Running the ASGI receiver with uvicorn on a thread of our own.

uvicorn installs signal handlers only on the main thread and re-raises SIGTERM after its own
shutdown (exit 143); running it on a worker thread leaves signals, and the exit code, to us.
Connections get the deadlines and the cap of `localobs.connections`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from localobs.connections import (
    ACCEPT_BURST,
    ConnectionLimits,
    QuietLoopErrors,
    connection_cap,
    guarded_protocol,
    raise_open_file_limit,
)

_LISTEN_BACKLOG = 2048


class PortInUse(Exception):
    """The address is taken, most likely by another `localobs up`."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound now so that a busy port is reported before anything starts."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise PortInUse(
            f"cannot listen on {host}:{port}: {exc.strerror}. Is another localobs (or "
            "collector) running? Stop it, or choose another port with --port."
        ) from exc
    sock.listen(_LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


class _GuardedServer(uvicorn.Server):
    """uvicorn's server with quiet event-loop errors, accepting `ACCEPT_BURST` connections at a
    time while the kernel queues up to `_LISTEN_BACKLOG`."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(QuietLoopErrors())
        await super().startup(sockets)
        for sock in sockets or []:
            sock.listen(_LISTEN_BACKLOG)  # asyncio set it to its accept burst


class ReceiverServer:
    """One uvicorn server on a daemon thread; `stop` finishes in-flight requests first.

    Raises the process's soft limit on open files to the hard one, and holds fewer connections.
    """

    def __init__(
        self, app: ASGIApp, host: str, port: int, limits: ConnectionLimits | None = None
    ) -> None:
        self._socket = bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        limits = limits or ConnectionLimits()
        config = uvicorn.Config(
            app,
            http=guarded_protocol(limits, connection_cap(raise_open_file_limit())),
            backlog=ACCEPT_BURST,
            timeout_keep_alive=max(1, round(limits.idle_timeout_s)),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=30,
        )
        self._server = _GuardedServer(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="receiver",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the receiver failed to start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (their batches get committed)."""
        self._server.should_exit = True
        self._thread.join()
        self._socket.close()
