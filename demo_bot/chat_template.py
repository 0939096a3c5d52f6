"""The GGUF's own chat template, rendered by one formatter object for llama.cpp and for counting.

llama.cpp's server reports no usage for streamed calls; rendering the prompt with the very
formatter llama.cpp uses makes the input token count exact. Without a template in the GGUF the
count is not reported (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ChatTemplate:
    """Installs the GGUF's template as `llm`'s chat handler and counts prompt tokens with it."""

    def __init__(self, llm: Any) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llm = llm
        self._formatter: Any = None  # a Jinja2ChatFormatter, typed for llama_cpp's messages
        template = llm.metadata.get("tokenizer.chat_template")
        if template:
            eos, bos = llm.token_eos(), llm.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(eos),
                bos_token=self._token_text(bos),
                stop_token_ids=[eos],
            )
            llm.chat_handler = self._formatter.to_chat_handler()

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        text: bytes = self._llm.detokenize([token], special=True)
        return text.decode("utf-8", errors="replace")

    def input_tokens(self, messages: Sequence[Any]) -> int | None:
        """The prompt's token count as llama.cpp sees it; None without a template."""
        if self._formatter is None:
            return None
        prompt = self._formatter(messages=list(messages)).prompt.encode()
        return len(self._llm.tokenize(prompt, add_bos=False, special=True))
