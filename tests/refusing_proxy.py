"""An HTTP(S) proxy on loopback that refuses every request and records where it was going.

Tests of real clients set HTTP_PROXY / HTTPS_PROXY (and the lower-case forms) to it, with NO_PROXY
naming only the loopback endpoints they serve: anything a client tries to reach outside the test
shows up in `attempts`, so a test can assert that nothing phoned home.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(8192).decode("latin-1").strip()
        if line:
            parts = line.split()
            self.server.attempts.append(parts[1] if len(parts) > 1 else line)
        self.wfile.write(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.attempts: list[str] = []


@contextmanager
def refusing_proxy() -> Iterator[tuple[str, list[str]]]:
    """Yields (proxy URL, the targets clients tried: `host:port` for CONNECT, else the URL)."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.attempts
    finally:
        server.shutdown()
        server.server_close()


def proxy_env(proxy_url: str, no_proxy: str = "127.0.0.1,localhost") -> dict[str, str]:
    """The environment variables that send a client's outbound traffic to the refusing proxy."""
    return {
        "HTTP_PROXY": proxy_url,
        "HTTPS_PROXY": proxy_url,
        "http_proxy": proxy_url,
        "https_proxy": proxy_url,
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }
