"""`python -m demo_bot.replay_worker`: the bundled model answering replayed requests.

`localobs replay` runs llama.cpp here, in a process of its own, so that the viewer and the CLI
never import llama.cpp (an import contract). It speaks JSON lines: the first line on stdin says
which model to load (`{"model": PATH|null, "n_gpu_layers": 0, "threads": null}`) and the worker
answers `{"ready": true, "model": NAME}`; every later line is one OpenAI-style chat request
(`messages`, `tools`, `max_tokens`, `temperature`, `top_p`, `json`) answered by one line with
the text, finish reason, token counts and timings, or `{"error": ...}`. It sends no telemetry:
the caller stores each run. No seed is set, so runs at a temperature above 0 differ.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import orjson

from demo_bot.chat_template import ChatTemplate
from demo_bot.extra_bufts import extra_buffer_types
from demo_bot.llm import default_model_path, default_threads


class ReplayModel:
    """A GGUF chat model that streams each answer, timing the first piece of text."""

    def __init__(self, path: Path | None, n_gpu_layers: int, threads: int | None) -> None:
        from llama_cpp import Llama

        model_path = path or default_model_path()
        n_threads = threads or default_threads()
        with extra_buffer_types(False):
            self._llm: Any = Llama(
                model_path=str(model_path),
                n_ctx=2048,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=n_gpu_layers,
                verbose=False,
            )
        self.name = model_path.name.removesuffix(".gguf")
        self._template = ChatTemplate(self._llm)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        messages = request["messages"]
        kwargs: dict[str, Any] = {
            "max_tokens": request.get("max_tokens"),
            "temperature": request.get("temperature", 0.7),
            "top_p": request.get("top_p", 0.95),
            "model": self.name,
        }
        if request.get("tools"):
            kwargs["tools"] = request["tools"]
        if request.get("json"):
            kwargs["response_format"] = {"type": "json_object"}
        started = time.perf_counter()
        ttft: float | None = None
        pieces: list[str] = []
        finish = "unknown"
        for chunk in self._llm.create_chat_completion(messages=messages, stream=True, **kwargs):
            choice = chunk["choices"][0]
            piece = choice["delta"].get("content")
            if piece:
                ttft = time.perf_counter() - started if ttft is None else ttft
                pieces.append(piece)
            finish = choice.get("finish_reason") or finish
        duration = time.perf_counter() - started
        text = "".join(pieces)
        return {
            "text": text,
            "finish_reason": finish,
            "input_tokens": self._template.input_tokens(messages),
            "output_tokens": len(self._llm.tokenize(text.encode(), add_bos=False)) if text else 0,
            "ttft_s": ttft,
            "duration_s": duration,
            "response_model": self.name,
        }


def _send(out: TextIO, value: dict[str, Any]) -> None:
    out.write(orjson.dumps(value).decode() + "\n")
    out.flush()


def serve(source: TextIO, out: TextIO) -> None:
    """Load the model named on the first line, then answer each further line until EOF."""
    first = source.readline()
    if not first:
        return
    try:
        setup = orjson.loads(first)
        model = ReplayModel(
            Path(setup["model"]) if setup.get("model") else None,
            int(setup.get("n_gpu_layers") or 0),
            setup.get("threads"),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _send(out, {"error": f"cannot load the model: {exc}"})
        return
    _send(out, {"ready": True, "model": model.name})
    for line in source:
        if not line.strip():
            continue
        try:
            _send(out, model.answer(orjson.loads(line)))
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            _send(out, {"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    # llama.cpp's C code may print to file descriptor 1: the protocol gets a copy of it, and
    # descriptor 1 (and sys.stdout) go to stderr.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, protocol)
