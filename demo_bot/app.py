"""Wiring: dataset, embedding index and chat model into a ready SessionBot, timed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from demo_bot.dataset import load_sessions, load_topics
from demo_bot.flow import FlowConfig, SessionBot
from demo_bot.llm import ChatModel, ModelOptions, default_threads
from demo_bot.retriever import Retriever
from demo_bot.telemetry import Telemetry

log = logging.getLogger("demo_bot.app")


@dataclass(frozen=True, slots=True)
class StartupTimes:
    model_load_s: float
    index_build_s: float
    backend: str = ""
    """Which llama.cpp backend runs the model and how many layers are on the GPU."""


def build_bot(
    options: ModelOptions, config: FlowConfig, telemetry: Telemetry
) -> tuple[SessionBot, StartupTimes]:
    """Load everything a question needs, once: the model and the program's embedding index."""
    sessions = load_sessions()
    model = ChatModel(options, telemetry)
    retriever = Retriever(sessions, telemetry, threads=options.threads or default_threads())
    times = StartupTimes(
        model_load_s=model.load_seconds,
        index_build_s=retriever.load_seconds,
        backend=model.backend.describe(),
    )
    log.info(
        "ready: %s loaded in %.2f s, %d sessions indexed in %.2f s; %s",
        model.name,
        times.model_load_s,
        len(sessions),
        times.index_build_s,
        times.backend,
    )
    return SessionBot(model, retriever, load_topics(), telemetry, config), times
