"""Running N replays of one call (per temperature), one at a time, storing each as it finishes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from localobs.replay.request import ReplayRequest
from localobs.replay.runs import RunResult
from localobs.store.calls import CallDetail

if TYPE_CHECKING:  # the backends pull in httpx
    from localobs.replay.backends import Backend


class FinishedRun(NamedTuple):
    """One finished replay, with what a sink needs to store it as a call of its own."""

    original: CallDetail  # the call replayed
    request: ReplayRequest  # as sent (its temperature may differ from the original's)
    result: RunResult
    batch: str  # the id shared by the runs of one `localobs replay`
    model: str
    provider: str


class RunSink(Protocol):
    def save(self, run: FinishedRun) -> int: ...


def new_batch_id() -> str:
    return uuid.uuid4().hex[:16]


def run_replays(
    original: CallDetail,
    request: ReplayRequest,
    backend: Backend,
    sink: RunSink,
    *,
    runs: int,
    temperatures: Sequence[float | None] = (None,),
    on_result: Callable[[RunResult], None] = lambda _result: None,
) -> list[RunResult]:
    """`runs` replays per temperature (None: the original's), in order; returns what finished.

    A backend error ends the whole replay (`ReplayError` propagates): the runs already stored
    stay, the failed one stores nothing. To cancel, interrupt it (the CLI turns SIGTERM into
    KeyboardInterrupt): a run is stored only once it has finished.
    """
    batch = new_batch_id()
    results: list[RunResult] = []
    number = 0
    for temperature in temperatures:
        sent = request.with_temperature(temperature)
        for _ in range(runs):
            number += 1
            start = time.time_ns()
            answer = backend.answer(sent)
            result = RunResult(
                run=number,
                temperature=sent.temperature,
                text=answer.text,
                finish_reason=answer.finish_reason,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
                duration_ms=answer.duration_ms,
                ttft_ms=answer.ttft_ms,
                start_unix_nano=start,
                response_model=answer.response_model,
            )
            call_id = sink.save(
                FinishedRun(original, sent, result, batch, backend.model, backend.provider)
            )
            stored = RunResult(**{**result.to_json(), "call_id": call_id})
            results.append(stored)
            on_result(stored)
    return results
