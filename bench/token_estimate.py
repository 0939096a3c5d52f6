"""How far the token estimate (store/token_estimate.py) is from llama.cpp's own counts.

`python -m bench.token_estimate` starts llama.cpp's OpenAI-compatible server with the demo model,
asks each demo question (non-streamed, so the server reports usage), and prints, per direction,
the mean and worst relative error of the estimate made from the same text as localobs stores it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from localobs.store.token_estimate import estimate_tokens
from tests.fixtures.genai.capture import CHAT_MODEL, llama_server

QUESTIONS = Path(__file__).resolve().parent.parent / "demo_bot" / "data" / "questions.json"
SYSTEM = "You are a conference assistant. Answer briefly."
MAX_TOKENS = 80


def _message(role: str, text: str) -> dict[str, object]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def main() -> None:
    from openai import OpenAI

    errors_in: list[float] = []
    errors_out: list[float] = []
    with tempfile.TemporaryDirectory() as workdir, llama_server(Path(workdir)) as url:
        client = OpenAI(base_url=url, api_key="not-needed", max_retries=0)
        for question in json.loads(QUESTIONS.read_text()):
            reply = client.chat.completions.create(
                model=CHAT_MODEL,
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": question},
                ],
                max_tokens=MAX_TOKENS,
                temperature=0.0,
                seed=1,
            )
            assert reply.usage is not None
            answer = reply.choices[0].message.content or ""
            estimate = estimate_tokens(
                None,
                None,
                json.dumps([_message("user", question)]),
                json.dumps([_message("assistant", answer)]),
                json.dumps([{"type": "text", "content": SYSTEM}]),
            )
            assert estimate.input is not None and estimate.output is not None
            errors_in.append(estimate.input / reply.usage.prompt_tokens - 1)
            errors_out.append(estimate.output / reply.usage.completion_tokens - 1)
    for name, errors in (("input", errors_in), ("output", errors_out)):
        mean = sum(map(abs, errors)) / len(errors)
        worst = max(map(abs, errors))
        bias = sum(errors) / len(errors)
        print(
            f"{name}: {len(errors)} calls, mean |error| {mean:.1%}, worst {worst:.1%},"
            f" mean signed {bias:+.1%}"
        )


if __name__ == "__main__":
    main()
