"""Where replays run: the bundled model in a worker process, or an OpenAI-compatible endpoint.

Both answer one request at a time with an `Answer`; both raise `ReplayError` with a message fit
for the user when they cannot (no model installed, endpoint down, bad answer).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from localobs.replay.availability import HOW_TO_GET_A_MODEL, bundled_model_available
from localobs.replay.request import ReplayRequest

WORKER_MODULE = "demo_bot.replay_worker"


class ReplayError(Exception):
    """A replay could not run; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    duration_ms: float
    ttft_ms: float | None
    response_model: str | None


class Backend(Protocol):
    description: str
    model: str
    provider: str
    """`gen_ai.provider.name` of the stored runs."""

    def answer(self, request: ReplayRequest) -> Answer: ...

    def close(self) -> None: ...


def _body(request: ReplayRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.tools:
        body["tools"] = request.tools
    return body


class WorkerBackend:
    """`python -m demo_bot.replay_worker` as a child process, spoken to in JSON lines."""

    def __init__(self, model_path: str | None = None, n_gpu_layers: int = 0) -> None:
        if not bundled_model_available(own_gguf=model_path is not None):
            raise ReplayError(HOW_TO_GET_A_MODEL)
        self._process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ready = self._call({"model": model_path, "n_gpu_layers": n_gpu_layers})
        self.model = str(ready.get("model") or "bundled model")
        self.description = f"{self.model} on llama.cpp (local worker process)"
        self.provider = "llama.cpp"

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        stdin: IO[bytes] | None = self._process.stdin
        stdout: IO[bytes] | None = self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(orjson.dumps(message) + b"\n")
            stdin.flush()
            line = stdout.readline()
        except OSError as exc:
            raise ReplayError(f"the model worker stopped: {exc}") from exc
        if not line:
            raise ReplayError(f"the model worker exited (status {self._process.wait()})")
        reply: dict[str, Any] = orjson.loads(line)
        if "error" in reply:
            raise ReplayError(f"the model worker failed: {reply['error']}")
        return reply

    def answer(self, request: ReplayRequest) -> Answer:
        reply = self._call({**_body(request), "json": request.json_output})
        ttft_s = reply.get("ttft_s")
        return Answer(
            text=reply["text"],
            finish_reason=reply.get("finish_reason"),
            input_tokens=reply.get("input_tokens"),
            output_tokens=reply.get("output_tokens"),
            duration_ms=reply["duration_s"] * 1000.0,
            ttft_ms=None if ttft_s is None else ttft_s * 1000.0,
            response_model=reply.get("response_model"),
        )

    def close(self) -> None:
        """Stop the worker at once: an answer in progress is abandoned."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EndpointBackend:
    """An OpenAI-compatible `/chat/completions`, streamed so that TTFT is measured."""

    def __init__(
        self, url: str, model: str, *, allow_remote: bool = False, timeout_s: float = 120.0
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ReplayError(f"{url!r} is not an http(s) URL")
        if not allow_remote and not is_loopback(url):
            raise ReplayError(
                f"{url} is not on this machine: replays go only to loopback endpoints unless "
                "you pass --allow-remote"
            )
        self._url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.description = f"{model} at {url}"
        self.provider = "openai"  # the API it speaks: OpenAI-compatible
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=5.0))

    def answer(self, request: ReplayRequest) -> Answer:
        body = {
            **_body(request),
            "model": self.model,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.json_output:
            body["response_format"] = {"type": "json_object"}
        started = time.perf_counter()
        ttft: float | None = None
        pieces: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        response_model: str | None = None
        try:
            with self._client.stream("POST", self._url, json=body) as response:
                if response.status_code != 200:
                    detail = response.read().decode("utf-8", "replace")[:300]
                    raise ReplayError(
                        f"{self._url} answered {response.status_code}: {detail.strip()}"
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line.removeprefix("data:").strip()
                    if data == "[DONE]":
                        break
                    chunk = orjson.loads(data)
                    response_model = response_model or chunk.get("model")
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or ():
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            ttft = time.perf_counter() - started if ttft is None else ttft
                            pieces.append(piece)
                        finish = choice.get("finish_reason") or finish
        except httpx.HTTPError as exc:
            raise ReplayError(f"cannot reach {self._url}: {exc or type(exc).__name__}") from exc
        except orjson.JSONDecodeError as exc:
            raise ReplayError(f"{self._url} sent a stream chunk that is not JSON") from exc
        duration = time.perf_counter() - started
        return Answer(
            text="".join(pieces),
            finish_reason=finish,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            duration_ms=duration * 1000.0,
            ttft_ms=None if ttft is None else ttft * 1000.0,
            response_model=response_model,
        )

    def close(self) -> None:
        self._client.close()
