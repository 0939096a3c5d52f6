"""Real agent frameworks driving llama.cpp's OpenAI-compatible server, exporting OTLP to localobs.

`python -m tests.agent_frameworks FRAMEWORK OTLP_URL LLM_URL` runs one two-turn conversation in
its own process (each framework's instrumentation patches globally) and prints one JSON line:
what the tool was called with, the conversation id and the answers.

* `pydantic_ai`: Pydantic AI with its native GenAI instrumentation (`gen_ai.*` spans).
* `openai_agents`: the OpenAI Agents SDK through OpenInference (`openinference.span.kind`).

A 135M model never picks a tool by itself, so the first model request of each turn forces the
tool (`tool_choice` naming it): llama.cpp turns that into a JSON-schema grammar and the tool call
is real model output; the request after the tool result lets the model answer. The requests pass
through `LlamaCompat`, which adapts what llama-cpp-python 0.3.36's server refuses or ignores
(measured, see /work/shared/notes/clients-offline.md): `"content": null` next to tool calls,
`max_completion_tokens` (sent as `max_tokens`), and `tool_choice: "required"` with one tool (sent
as that tool by name, the only form it constrains).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx2  # what openai 3.x speaks HTTP with

MODEL = "smollm2"
AGENT = "weather"
TOOL = "get_weather"
CITY = "Paris"
FORECAST = "sunny, 21 C"
QUESTION = "What is the weather in Paris?"
FOLLOW_UP = "And in Paris tomorrow?"
CONVERSATION = "conv-frameworks-1"
MAX_TOKENS = 24

calls: list[dict[str, Any]] = []


def get_weather(city: str) -> str:
    """The weather forecast for a city."""
    calls.append({"city": city})
    return FORECAST


class LlamaCompat(httpx2.AsyncBaseTransport):
    """Adapts a request body to what llama-cpp-python's server accepts; nothing else."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/chat/completions"):
            body = json.loads(await request.aread())
            for message in body.get("messages", []):
                if message.get("content") is None:
                    message["content"] = ""
            if "max_completion_tokens" in body:
                body["max_tokens"] = body.pop("max_completion_tokens")
            body.setdefault("max_tokens", MAX_TOKENS)
            tools = body.get("tools") or []
            if body.get("tool_choice") == "required" and len(tools) == 1:
                # The same demand, in the one form llama-cpp-python turns into a grammar.
                body["tool_choice"] = {"type": "function", "function": tools[0]["function"]}
            content = json.dumps(body).encode()
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            request = httpx2.Request(request.method, request.url, headers=headers, content=content)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def tracer_provider(otlp_url: str, service: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(f"{otlp_url}/v1/traces")))
    return provider


async def pydantic_ai(otlp_url: str, llm_url: str) -> dict[str, Any]:
    from dataclasses import dataclass

    from openai import AsyncOpenAI
    from pydantic_ai import Agent, RunContext
    from pydantic_ai.capabilities import AbstractCapability
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    from pydantic_ai.settings import ModelSettings

    @dataclass
    class ForceToolFirst(AbstractCapability[None]):
        """The tool on a turn's first request, then free text (see the module docstring)."""

        def get_model_settings(self) -> Any:
            def settings(ctx: RunContext[None]) -> ModelSettings:
                first = ctx.run_step <= 1
                return ModelSettings(tool_choice=[TOOL] if first else "none")

            return settings

    provider = tracer_provider(otlp_url, "pydantic-ai-agent")
    client = AsyncOpenAI(
        base_url=llm_url, api_key="unused", http_client=httpx2.AsyncClient(transport=LlamaCompat())
    )
    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))
    agent = Agent(
        model,
        name=AGENT,
        instructions="Answer about the weather in one sentence.",
        tools=[get_weather],
        capabilities=[ForceToolFirst()],
        model_settings=ModelSettings(max_tokens=MAX_TOKENS, temperature=0.0),
    )
    agent.instrument = InstrumentationSettings(tracer_provider=provider, include_content=True)
    first = await agent.run(QUESTION, conversation_id=CONVERSATION)
    second = await agent.run(
        FOLLOW_UP, message_history=first.all_messages(), conversation_id=CONVERSATION
    )
    provider.shutdown()
    return {"answers": [str(first.output), str(second.output)], "conversation": CONVERSATION}


async def openai_agents(otlp_url: str, llm_url: str) -> dict[str, Any]:
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_trace_processors,
    )
    from openai import AsyncOpenAI
    from openinference.instrumentation import using_session
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    # No processor exporting to the vendor: only OpenInference's, added by the instrumentor.
    set_trace_processors([])
    provider = tracer_provider(otlp_url, "openai-agents-agent")
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    client = AsyncOpenAI(
        base_url=llm_url, api_key="unused", http_client=httpx2.AsyncClient(transport=LlamaCompat())
    )
    agent = Agent(
        name=AGENT,
        instructions="Answer about the weather in one sentence.",
        tools=[function_tool(get_weather)],
        model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
        # Forced on a turn's first request; reset_tool_choice (the default) frees the next.
        model_settings=ModelSettings(tool_choice=TOOL, max_tokens=MAX_TOKENS, temperature=0.0),
    )
    with using_session(CONVERSATION):
        first = await Runner.run(agent, QUESTION)
        history = first.to_input_list() + [{"role": "user", "content": FOLLOW_UP}]
        second = await Runner.run(agent, history)
    provider.shutdown()
    return {
        "answers": [str(first.final_output), str(second.final_output)],
        "conversation": CONVERSATION,
    }


FRAMEWORKS = {"pydantic_ai": pydantic_ai, "openai_agents": openai_agents}


def main() -> None:
    framework, otlp_url, llm_url = sys.argv[1:4]
    result = asyncio.run(FRAMEWORKS[framework](otlp_url, llm_url))
    print(json.dumps({**result, "tool_calls": calls}))


if __name__ == "__main__":
    main()
