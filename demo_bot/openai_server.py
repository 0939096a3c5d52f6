"""`python -m demo_bot.openai_server`: llama.cpp's OpenAI-compatible server, loading its models
the way the demo bot does, with llama.cpp's extra buffer types off (see demo_bot.extra_bufts).

It takes the arguments of `python -m llama_cpp.server` (e.g. `--config_file FILE`), plus
`--extra-bufts` to turn the fast path back on. The server loads a model on the first request for
it, so the setting holds for the whole life of the process.
"""

from __future__ import annotations

import sys

from demo_bot.extra_bufts import FLAG, extra_buffer_types


def main(argv: list[str]) -> None:
    from llama_cpp.server.__main__ import main as serve

    enabled = FLAG in argv
    sys.argv = [sys.argv[0], *(arg for arg in argv if arg != FLAG)]  # what the server parses
    with extra_buffer_types(enabled):
        serve()


if __name__ == "__main__":
    main(sys.argv[1:])
