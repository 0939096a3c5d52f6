"""Running the ASGI receiver with uvicorn on a thread of our own.

uvicorn installs signal handlers only on the main thread and re-raises SIGTERM after its own
shutdown (exit 143); running it on a worker thread leaves signals, and the exit code, to us.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp


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
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ReceiverServer:
    """One uvicorn server on a daemon thread; `stop` finishes in-flight requests first."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self._socket = bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=30,
        )
        self._server = uvicorn.Server(config)
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
