"""A local stand-in of OpenAI's Responses API (streaming), for driving the real Codex CLI offline.

Codex speaks only the Responses API to a model provider, and llama.cpp's server has none. This
stand-in answers `POST .../responses` with a server-sent-event stream shaped as the API's: its
first answer in a conversation is a function call (the shell tool running `echo hi`), so the
client runs a tool and calls again; the answer to a request that carries the tool's output is
text. The stream pauses PAUSE_S before the first output item and again before the completion, so
a client's time to first output and the call's duration differ measurably. Every other POST
(Codex's turn-cost analytics call to the provider URL) gets `200 {}`. Each request is recorded,
so a test can compare the client's telemetry with what it sent and got.

The same answers also come over the Responses API's WebSocket transport (`GET .../responses` with
`Upgrade: websocket`; one `response.create` message a request, the events back as text
messages), which Codex uses for providers with `supports_websockets` (OpenAI's own, by default).
Codex first sends a `generate: false` request there to warm the connection up: it is answered
with an empty, usage-less response.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "standin-model"
ANSWER_TEXT = "The command printed hi."
TOOL_COMMAND = "echo hi"
PAUSE_S = 0.1


@dataclass(frozen=True)
class Usage:
    """The usage one answer reports (in `response.completed`)."""

    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int


TOOL_CALL_USAGE = Usage(input_tokens=321, cached_tokens=64, output_tokens=17, reasoning_tokens=5)
TEXT_USAGE = Usage(input_tokens=402, cached_tokens=256, output_tokens=9, reasoning_tokens=3)


@dataclass
class Recorded:
    """What the stand-in was sent: the Responses requests (parsed, over either transport), the
    WebSocket connections, and every other path."""

    responses: list[dict[str, Any]] = field(default_factory=list)
    websocket_paths: list[str] = field(default_factory=list)  # connections upgraded
    other_paths: list[str] = field(default_factory=list)


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _response(response_id: str, status: str, usage: Usage | None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": response_id, "object": "response", "model": MODEL}
    body["status"] = status
    body["output"] = []
    if usage is not None:
        body["usage"] = {
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.input_tokens + usage.output_tokens,
        }
    return body


def _has_tool_output(request: dict[str, Any]) -> bool:
    items = request.get("input")
    return isinstance(items, list) and any(
        isinstance(item, dict) and item.get("type") == "function_call_output" for item in items
    )


def tool_arguments(request: dict[str, Any]) -> tuple[str, str]:
    """The (tool name, JSON arguments) that run TOOL_COMMAND with the shell tool this request
    offers (Codex names its shell tool differently by model family and version)."""
    names = {tool.get("name") for tool in request.get("tools", []) if isinstance(tool, dict)}
    if "shell_command" in names:
        return "shell_command", json.dumps({"command": TOOL_COMMAND})
    if "exec_command" in names:
        return "exec_command", json.dumps({"cmd": TOOL_COMMAND})
    return "shell", json.dumps({"command": ["bash", "-lc", TOOL_COMMAND]})


def answer_events(request: dict[str, Any], number: int) -> list[dict[str, Any]]:
    """The SSE events of the answer to `request` (the `number`th Responses request)."""
    response_id = f"resp_{number}"
    if request.get("generate") is False:  # a warm-up: nothing generated, nothing used
        return [
            {"type": "response.created", "response": _response(response_id, "in_progress", None)},
            {"type": "response.completed", "response": _response(response_id, "completed", None)},
        ]
    if _has_tool_output(request):
        item: dict[str, Any] = {
            "type": "message",
            "id": f"msg_{number}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": ANSWER_TEXT, "annotations": []}],
        }
        added = {**item, "status": "in_progress", "content": []}
        usage = TEXT_USAGE
        middle = [
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": ANSWER_TEXT,
            }
        ]
    else:
        name, arguments = tool_arguments(request)
        item = {
            "type": "function_call",
            "id": f"fc_{number}",
            "call_id": f"call_{number}",
            "name": name,
            "arguments": arguments,
            "status": "completed",
        }
        added = {**item, "status": "in_progress", "arguments": ""}
        usage = TOOL_CALL_USAGE
        middle = []
    return [
        {"type": "response.created", "response": _response(response_id, "in_progress", None)},
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        *middle,
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": _response(response_id, "completed", usage)},
    ]


_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.split("?")[0].endswith("/responses"):
            self.server.recorded.other_paths.append(self.path)
            self._send(200, "application/json", b"{}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._answer(json.loads(raw), lambda events: self._chunk(b"".join(map(_sse, events))))
        self._chunk(b"")

    def _answer(
        self, request: dict[str, Any], send: Callable[[list[dict[str, Any]]], None]
    ) -> None:
        """Record `request` and send its answer's events: response.created at once, the output
        after a pause, response.completed after another."""
        with self.server.lock:
            self.server.recorded.responses.append(request)
            number = len(self.server.recorded.responses)
        events = answer_events(request, number)
        send(events[:1])
        time.sleep(PAUSE_S)
        send(events[1:-1])
        time.sleep(PAUSE_S)
        send(events[-1:])

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key")
        if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
            self.server.recorded.other_paths.append(self.path)
            self._send(404, "application/json", b"{}")
            return
        accept = hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", base64.b64encode(accept).decode())
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.server.recorded.websocket_paths.append(self.path)

        def send(events: list[dict[str, Any]]) -> None:
            for event in events:
                self._frame(_TEXT, json.dumps(event).encode())

        while (message := self._message()) is not None:
            request = json.loads(message)
            if request.get("type") == "response.create":
                self._answer(request, send)

    def _message(self) -> bytes | None:
        """The next text message from the client (ping answered), None once it closes."""
        data = b""
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return None
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self.rfile.read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self.rfile.read(8))
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == _CLOSE:
                self._frame(_CLOSE, payload[:2])
                return None
            if opcode == _PING:
                self._frame(_PONG, payload)
            elif opcode in (_TEXT, _BINARY, _CONTINUATION):
                data += payload
                if head[0] & 0x80:
                    return data

    def _frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
        self.wfile.write(head + payload)
        self.wfile.flush()

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.recorded = Recorded()
        self.lock = threading.Lock()


@contextmanager
def responses_standin() -> Iterator[tuple[str, Recorded]]:
    """Yields (base URL ending in /v1, what the stand-in was sent)."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.recorded
    finally:
        server.shutdown()
        server.server_close()
