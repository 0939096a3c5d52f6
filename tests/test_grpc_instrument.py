"""Zero-code instrumentation as a user runs it: `opentelemetry-instrument` with openai-v2 driving
the `openai` client against llama.cpp's server, no protocol variable set (so OTLP/gRPC), only the
endpoint pointing at `localobs up`'s gRPC port: the call lands in `llm_calls`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import start_localobs
from tests.fixtures.genai.capture import CHAT_MODEL, USER_PROMPT, llama_server
from tests.test_grpc_up import free_port

pytestmark = pytest.mark.slow
# `opentelemetry-instrument` configures the SDK through opentelemetry-distro, as its docs say to
# install; without it the tracer provider stays a no-op proxy.
pytest.importorskip("opentelemetry.distro", reason="needs opentelemetry-distro (test extra)")

APP = f"""
from openai import OpenAI

client = OpenAI(max_retries=0)
reply = client.chat.completions.create(
    model={CHAT_MODEL!r},
    messages=[{{"role": "user", "content": {USER_PROMPT!r}}}],
    max_tokens=8,
    temperature=0.0,
)
print(reply.choices[0].message.content)
"""

# This venv also holds OpenLLMetry's and OpenInference's openai instrumentations, which register
# under the same entry point name; a user would have installed openai-v2 alone. A distribution
# earlier on the path shadows a later one of the same name, so these empty ones hide them.
OTHER_INSTRUMENTATIONS = (
    "opentelemetry-instrumentation-openai",
    "openinference-instrumentation-openai",
)


def shadow_other_instrumentations(directory: Path) -> None:
    for name in OTHER_INSTRUMENTATIONS:
        info = directory / f"{name.replace('-', '_')}-0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0\n")
        (info / "entry_points.txt").write_text("")


def test_opentelemetry_instrument_with_grpc_defaults_lands_in_llm_calls(tmp_path: Path) -> None:
    grpc_port = free_port()
    running = start_localobs(tmp_path / "a.db", "--grpc-port", str(grpc_port))
    shadow = tmp_path / "shadow"
    shadow_other_instrumentations(shadow)
    (tmp_path / "app.py").write_text(APP)
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    try:
        with llama_server(tmp_path) as llm_url:
            env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
            env |= {
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{grpc_port}",
                "OTEL_SERVICE_NAME": "zero-code",
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
                "OPENAI_BASE_URL": llm_url,
                "OPENAI_API_KEY": "not-needed",
                "PYTHONPATH": str(shadow),
            }
            done = subprocess.run(
                [str(instrument), sys.executable, str(tmp_path / "app.py")],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
        conn = sqlite3.connect(tmp_path / "a.db")
        query = "SELECT service_name, operation, request_model, output_tokens FROM llm_calls"
        deadline = time.monotonic() + 30
        while not (calls := conn.execute(query).fetchall()):
            assert time.monotonic() < deadline, "no call arrived over gRPC"
            time.sleep(0.1)
        assert calls == [("zero-code", "chat", CHAT_MODEL, 8)]
    finally:
        running.stop()
