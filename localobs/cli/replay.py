"""`localobs replay CALL_ID`: send a captured call again N times and show how much answers vary."""

from __future__ import annotations

import signal
import sys
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from localobs.cli.group import db_option, json_option, main, open_store
from localobs.literal import json_text, visible
from localobs.replay.availability import ENDPOINT_ENV, MODEL_ENV
from localobs.replay.spread import Quantiles, Spread, spreads

if TYPE_CHECKING:  # the replay machinery is imported when the command runs, not at start-up
    from localobs.replay.runner import FinishedRun, RunSink
    from localobs.replay.runs import RunResult

DEFAULT_RUNS = 10
_CLUSTER_PREVIEW = 70


def _temperatures(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[float]:
    """`--temperature 0,0.7,1` holds several values (so may repeated options)."""
    out: list[float] = []
    for value in values:
        for piece in value.replace(",", " ").split():
            try:
                out.append(float(piece))
            except ValueError:
                raise click.BadParameter(f"{piece!r} is not a number") from None
    return out


class StopSignals:
    """SIGTERM and Ctrl-C raise KeyboardInterrupt, except from the start of a run's commit
    until it is reported: a stop then waits for the report, so a cancelled replay never stores
    a run it did not report.

    A Python-level hold, not a signal mask: a mask holds for the thread that sets it only, and
    a signal the kernel gives another thread of the process (the writer client's) still runs
    the handler in the main thread at its next bytecode, possibly while the run is committed.
    """

    def __init__(self) -> None:
        self._holding = False
        self._pending = False

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        if self._holding:
            self._pending = True
            return
        raise KeyboardInterrupt

    def hold(self) -> None:
        self._holding = True

    def release(self) -> None:
        """Ends the hold; a stop that came during it is raised now."""
        self._holding = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _StopAfterReport:
    """The sink, holding stops from the start of each commit; the report releases them."""

    def __init__(self, sink: RunSink, stops: StopSignals) -> None:
        self._sink = sink
        self._stops = stops

    def save(self, run: FinishedRun) -> int:
        self._stops.hold()
        try:
            return self._sink.save(run)
        except BaseException:
            self._stops.release()
            raise


def _one_line(text: str) -> str:
    return visible(" ".join(text.split()), width=_CLUSTER_PREVIEW)


def _figures(label: str, q: Quantiles | None, digits: int = 1) -> str:
    if q is None:
        return f"{label:<15}not reported"
    return f"{label:<15}" + "  ".join(f"{k} {v:,.{digits}f}" for k, v in asdict(q).items())


def _print_spread(item: Spread) -> None:
    temperature = "original" if item.temperature is None else f"{item.temperature:g}"
    click.echo(
        f"temperature {temperature}: {item.runs} runs, {item.distinct_answers}"
        + (f", {item.failed} failed" if item.failed else "")
    )
    for cluster in item.clusters:
        mark = "  ← the original's" if cluster.has_original else ""
        same = "" if cluster.identical else " (near-identical)"
        click.echo(f"  {cluster.count:>3}x  {_one_line(cluster.text)}{same}{mark}")
    click.echo("  " + _figures("output tokens", item.output_tokens, 0))
    click.echo("  " + _figures("duration ms", item.duration_ms))
    click.echo("  " + _figures("TTFT ms", item.ttft_ms))
    reasons = ", ".join(f"{reason} {count}" for reason, count in item.finish_reasons)
    click.echo(f"  {'finish reasons':<15}{reasons or '-'}")
    if item.json_parsed is not None:
        click.echo(f"  {'parse as JSON':<15}{item.json_parsed} of {item.runs}")


@main.command()
@db_option
@click.argument("call_id", type=int)
# The values after the first of `--temperature 0 0.7 1.0` arrive as extra arguments.
@click.argument("more_temperatures", nargs=-1, type=float, metavar="")
@click.option(
    "-n",
    "--runs",
    type=click.IntRange(1, 1000),
    default=DEFAULT_RUNS,
    show_default=True,
    help="Replays per temperature.",
)
@click.option(
    "--temperature",
    "temperatures",
    multiple=True,
    callback=_temperatures,
    metavar="T [T...]",
    help="Temperatures to sweep, N runs each: --temperature 0 0.7 1.0 (or 0,0.7,1.0); "
    "default: the original's.",
)
@click.option(
    "--endpoint",
    metavar="URL",
    envvar=ENDPOINT_ENV,
    help="An OpenAI-compatible base URL, e.g. "
    "http://127.0.0.1:8080/v1 (default: the bundled model in a worker process).",
)
@click.option(
    "--model",
    "model",
    metavar="NAME",
    envvar=MODEL_ENV,
    help="With --endpoint: the model to ask for.",
)
@click.option("--allow-remote", is_flag=True, help="Let --endpoint be another machine.")
@click.option(
    "--gguf",
    type=click.Path(dir_okay=False, exists=True),
    help="Without --endpoint: a GGUF to load instead of the bundled model.",
)
@click.option("--n-gpu-layers", type=int, default=0, help="Without --endpoint: layers to offload.")
@json_option
@click.option("--json-lines", is_flag=True, help="Print one JSON line per event as runs finish.")
def replay(
    db: Path,
    call_id: int,
    runs: int,
    more_temperatures: tuple[float, ...],
    temperatures: list[float],
    endpoint: str | None,
    model: str | None,
    allow_remote: bool,
    gguf: str | None,
    n_gpu_layers: int,
    as_json: bool,
    json_lines: bool,
) -> None:
    """Replay call CALL_ID N times on a local model and show the spread of its answers.

    Each run is stored as a model call of service `localobs-replay`, in a trace of its own
    linked to the original; totals leave replays out unless asked (`service:localobs-replay`).
    """
    from localobs.replay.backends import Backend, EndpointBackend, ReplayError, WorkerBackend
    from localobs.replay.request import NotReplayable, original_text, request_from_call
    from localobs.replay.runner import run_replays
    from localobs.replay.runs import event_line
    from localobs.replay.storing import ReplayStore
    from localobs.store.calls import get_call

    def fail(message: str) -> NoReturn:
        if json_lines:
            sys.stdout.buffer.write(event_line("error", message=message))
            sys.stdout.flush()
        raise click.ClickException(message)

    if more_temperatures and not temperatures:
        raise click.UsageError(f"unexpected arguments after CALL_ID: {more_temperatures}")
    temperatures = temperatures + list(more_temperatures)
    if any(t < 0 for t in temperatures):
        raise click.BadParameter("a temperature is 0 or more", param_hint="--temperature")
    if endpoint and not model:
        raise click.UsageError("--endpoint needs --model NAME (the model the server should use)")
    if not db.exists():
        fail(f"{db} does not exist: run `localobs up` first, or pass --db")
    store = open_store(db)
    reader = store.reader()
    try:
        original = get_call(reader, call_id)
    finally:
        reader.close()
    if original is None:
        fail(f"there is no model call {call_id} in {db}")
    try:
        request = request_from_call(original)
    except NotReplayable as exc:
        fail(str(exc))
    stops = StopSignals()
    previous = {number: signal.signal(number, stops) for number in _STOP_SIGNALS}
    backend: Backend | None = None
    sink: ReplayStore | None = None
    results: list[RunResult] = []
    error: str | None = None
    total = runs * max(1, len(temperatures))

    def on_result(result: RunResult) -> None:
        try:
            results.append(result)
            if json_lines:
                sys.stdout.buffer.write(event_line("run", **result.to_json()))
                sys.stdout.flush()
            elif not as_json:
                click.echo(
                    f"run {result.run}/{total}: {result.output_tokens} tokens, "
                    f"{result.duration_ms:,.0f} ms",
                    err=True,
                )
        finally:
            stops.release()

    try:
        if endpoint:
            assert model is not None
            backend = EndpointBackend(endpoint, model, allow_remote=allow_remote)
        else:
            backend = WorkerBackend(gguf, n_gpu_layers)
        if json_lines:
            sys.stdout.buffer.write(
                event_line(
                    "start",
                    runs=total,
                    backend=backend.description,
                    json_output=request.json_output,
                    original=original_text(original),
                )
            )
            sys.stdout.flush()
        sink = ReplayStore(store)
        run_replays(
            original,
            request,
            backend,
            _StopAfterReport(sink, stops),
            runs=runs,
            temperatures=temperatures or [None],
            on_result=on_result,
        )
    except ReplayError as exc:
        error = str(exc)
    except KeyboardInterrupt:
        error = f"cancelled after {len(results)} of {total} runs"
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if backend is not None:
            backend.close()
        if sink is not None:
            sink.close()
    found = spreads(results, original_text(original), json_output=request.json_output)
    if json_lines:
        sys.stdout.buffer.write(event_line("done", stored=len(results), error=error))
    elif as_json:
        document = {
            "call_id": call_id,
            "backend": backend.description if backend else None,
            "error": error,
            "runs": [result.to_json() for result in results],
            "spreads": [asdict(item) for item in found],
        }
        click.echo(json_text(document))
    else:
        if backend is not None:
            click.echo(f"call {call_id} replayed on {backend.description}")
        for item in found:
            _print_spread(item)
        if results:
            ids = [result.call_id for result in results]
            click.echo(
                f"stored as calls {min(ids)}-{max(ids)} (service localobs-replay), "  # type: ignore[type-var]
                f"each linked to trace {original.trace_id}"
            )
    if error is not None:
        if not json_lines:
            click.echo(f"Error: {error}", err=True)
        raise SystemExit(1)
