"""Pydantic Logfire's own OpenAI instrumentation driving llama.cpp's server, exporting to localobs.

`python -m tests.logfire_client OTLP_URL LLM_URL` (its own process: Logfire configures the global
OpenTelemetry providers) makes three chat calls: one plain, one streamed at the top level (its
two spans then land in two traces), and one streamed inside an application span (siblings in one
trace). It prints one JSON line: the answers as the client received them.
"""

from __future__ import annotations

import json
import sys

MODEL = "smollm2"
QUESTIONS = ("Name a colour.", "Name a fruit.", "Name an animal.")


def main(otlp_url: str, llm_url: str) -> None:
    import logfire
    import openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = OTLPSpanExporter(endpoint=f"{otlp_url}/v1/traces")
    logfire.configure(
        send_to_logfire=False,
        console=False,
        service_name="logfire-app",
        additional_span_processors=[SimpleSpanProcessor(exporter)],
    )
    client = openai.OpenAI(base_url=llm_url, api_key="unused", max_retries=0)
    logfire.instrument_openai(client)

    def ask(question: str, stream: bool) -> str:
        messages = [{"role": "user", "content": question}]
        if not stream:
            done = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=8)
            return done.choices[0].message.content or ""
        chunks = client.chat.completions.create(
            model=MODEL, messages=messages, max_tokens=8, stream=True
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)

    answers = [ask(QUESTIONS[0], stream=False), ask(QUESTIONS[1], stream=True)]
    with logfire.span("handle request"):
        answers.append(ask(QUESTIONS[2], stream=True))
    logfire.force_flush()
    print(json.dumps({"answers": answers}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
