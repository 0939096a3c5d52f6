"""While the viewer draws on the terminal, log records meant for it go to a file instead.

Libraries in the same process (uvicorn warns about malformed requests, for one) log to stderr;
a line written there lands in the middle of the screen. Their stream handlers are pointed at a
file for as long as the viewer runs, and back afterwards.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from localobs.private_files import private_opener


def _terminal_handlers() -> list[logging.StreamHandler[TextIO]]:
    terminal = {id(stream) for stream in (sys.__stderr__, sys.__stdout__, sys.stderr, sys.stdout)}
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [
        handler
        for logger in loggers
        for handler in logger.handlers
        if type(handler) is logging.StreamHandler and id(handler.stream) in terminal
    ]


@contextmanager
def logs_to_file(path: Path) -> Iterator[None]:
    handlers = _terminal_handlers()
    last_resort = logging.lastResort
    # It holds what the receiver logs, which can quote telemetry: readable by the user only.
    with open(path, "a", encoding="utf-8", opener=private_opener) as file:
        previous = [(handler, handler.stream) for handler in handlers]
        for handler in handlers:
            handler.setStream(file)
        fallback = logging.StreamHandler(file)
        fallback.setLevel(logging.WARNING)
        logging.lastResort = fallback
        try:
            yield
        finally:
            logging.lastResort = last_resort
            for handler, stream in previous:
                handler.setStream(stream)
