"""`localobs replay` end to end: a call sent by the real SDK to the real receiver, replayed on the
bundled model (llama.cpp in the worker process) and on llama.cpp's OpenAI-compatible server,
stored as linked replays; cancel and a dead endpoint leave only whole runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localobs.cli.replay import StopSignals
from localobs.conditions import status_file_for
from localobs.store import Store
from localobs.store.call_filter import CallFilter
from localobs.store.calls import get_call, list_calls
from localobs.store.replays import REPLAY_SERVICE, replays_of
from localobs.store.stats import totals
from tests.conftest import RunningReceiver
from tests.fixtures.genai.capture import CHAT_MODEL, free_port, gguf_path, llama_server
from tests.tui_sdk import chat_call, sdk_tracer

pytestmark = pytest.mark.slow


@pytest.fixture
def original(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int]:
    """One captured chat call in a database; returns the database and its call id."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("quiz-app") as tracer:
        chat_call(tracer, "Name one colour of the rainbow.", "Red.", model="gpt-4o-mini")
    with receiver.store.reader() as conn:
        (call_id,) = conn.execute("SELECT call_id FROM llm_calls").fetchone()
    return receiver.store.path, call_id


def replay(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localobs", "replay", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )


def stored_replays(db: Path, call_id: int) -> list[Any]:
    store = Store(db)
    with store.reader() as conn:
        return list(replays_of(conn, call_id))


def test_replays_on_the_bundled_model_are_stored_as_linked_calls(
    original: tuple[Path, int],
) -> None:
    db, call_id = original
    status_file = status_file_for(db)
    assert status_file.exists()  # the receiver's
    done = replay(db, str(call_id), "-n", "3", "--temperature", "0", "1.5", "--json")
    assert done.returncode == 0, done.stderr
    assert status_file.exists()  # not taken over, nor removed, by the replay's writer
    report = json.loads(done.stdout)
    assert report["error"] is None and "llama.cpp" in report["backend"]
    assert [run["run"] for run in report["runs"]] == [1, 2, 3, 4, 5, 6]
    assert [run["temperature"] for run in report["runs"]] == [0.0] * 3 + [1.5] * 3
    assert all(run["text"] and run["ttft_ms"] is not None for run in report["runs"])
    assert all(0 < run["ttft_ms"] <= run["duration_ms"] for run in report["runs"])
    assert [s["temperature"] for s in report["spreads"]] == [0.0, 1.5]
    # Greedy decoding answers the same every time: one cluster of three.
    assert [c["runs"] for c in report["spreads"][0]["clusters"]] == [[1, 2, 3]]

    store = Store(db)
    with store.reader() as conn:
        source = get_call(conn, call_id)
        assert source is not None
        replays = replays_of(conn, call_id)
        assert [(r.run, r.temperature) for r in replays] == [
            (1, 0.0), (2, 0.0), (3, 0.0), (4, 1.5), (5, 1.5), (6, 1.5)
        ]  # fmt: skip
        assert len({r.batch for r in replays}) == 1
        assert len({r.trace_id for r in replays} | {source.trace_id}) == 7  # a trace each
        assert {(r.linked_trace_id, r.linked_span_id) for r in replays} == {
            (source.trace_id, source.span_id)
        }
        first = get_call(conn, replays[0].call_id)
        assert first is not None
        assert first.service_name == REPLAY_SERVICE and first.operation == "chat"
        assert first.output_messages[0].parts[0].content == report["runs"][0]["text"]
        assert [m.parts[0].content for m in first.input_messages] == [
            "Name one colour of the rainbow."
        ]
        assert first.system_instructions[0].content == "You are a concise assistant."
        assert "gen_ai.request.seed" not in first.attributes
        # Lists and totals are the app's own: replays count only when asked for.
        assert [c.call_id for c in list_calls(conn)] == [call_id]
        assert len(list_calls(conn, CallFilter(service=REPLAY_SERVICE))) == 6
        now = time.time_ns()
        assert totals(conn, lambda: now, None).calls == 1
        assert totals(conn, lambda: now, None, CallFilter(include_replays=True)).calls == 7
        assert totals(conn, lambda: now, None, CallFilter(service=REPLAY_SERVICE)).calls == 6


def test_replays_on_llama_cpps_openai_compatible_server(
    original: tuple[Path, int], tmp_path: Path
) -> None:
    db, call_id = original
    with llama_server(tmp_path) as url:
        done = replay(db, str(call_id), "-n", "2", "--endpoint", url, "--model", CHAT_MODEL)
    assert done.returncode == 0, done.stderr
    assert f"replayed on {CHAT_MODEL} at {url}" in done.stdout
    assert "2 runs" in done.stdout
    replays = stored_replays(db, call_id)
    assert [r.run for r in replays] == [1, 2]
    store = Store(db)
    with store.reader() as conn:
        stored = get_call(conn, replays[0].call_id)
    assert stored is not None and stored.provider == "openai"
    assert stored.ttft_ms is not None and stored.output_messages[0].parts[0].content


def test_a_dead_endpoint_is_a_clear_error_and_stores_nothing(original: tuple[Path, int]) -> None:
    db, call_id = original
    dead = f"http://127.0.0.1:{free_port()}/v1"
    done = replay(db, str(call_id), "--endpoint", dead, "--model", "m")
    assert done.returncode == 1
    assert f"cannot reach {dead}/chat/completions" in done.stderr
    assert stored_replays(db, call_id) == []


def test_remote_endpoints_need_allow_remote(original: tuple[Path, int]) -> None:
    db, call_id = original
    done = replay(db, str(call_id), "--endpoint", "http://192.0.2.1/v1", "--model", "m")
    assert done.returncode == 1
    assert "not on this machine" in done.stderr and "--allow-remote" in done.stderr
    assert stored_replays(db, call_id) == []


def test_an_unknown_call_is_a_clear_error(original: tuple[Path, int]) -> None:
    db, _call_id = original
    done = replay(db, "999")
    assert done.returncode == 1 and "there is no model call 999" in done.stderr


@pytest.fixture
def streaming(original: tuple[Path, int]) -> Iterator[tuple[subprocess.Popen[str], Path, int]]:
    db, call_id = original
    process = subprocess.Popen(
        [sys.executable, "-m", "localobs", "replay", "--db", str(db), str(call_id)]
        + ["-n", "50", "--temperature", "1.5", "--json-lines"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    yield process, db, call_id
    if process.poll() is None:
        process.kill()
    process.wait()


def test_cancel_keeps_the_finished_runs_whole_and_nothing_else(
    streaming: tuple[subprocess.Popen[str], Path, int],
) -> None:
    process, db, call_id = streaming
    assert process.stdout is not None
    events = [json.loads(process.stdout.readline())]
    assert events[0]["event"] == "start" and events[0]["runs"] == 50
    events.append(json.loads(process.stdout.readline()))
    assert events[1]["event"] == "run" and events[1]["run"] == 1
    process.send_signal(signal.SIGTERM)  # what the viewer's escape does
    events += [json.loads(line) for line in process.stdout]
    assert process.wait(60) == 1
    assert events[-1]["event"] == "done" and events[-1]["error"].startswith("cancelled after")
    runs = [event for event in events if event["event"] == "run"]
    assert events[-1]["stored"] == len(runs) < 50
    replays = stored_replays(db, call_id)
    assert [r.call_id for r in replays] == [event["call_id"] for event in runs]


def test_the_endpoint_can_come_from_the_environment_as_the_viewer_passes_it(
    original: tuple[Path, int],
) -> None:
    db, call_id = original
    dead = f"http://127.0.0.1:{free_port()}/v1"
    env = {**os.environ, "LOCALOBS_REPLAY_ENDPOINT": dead, "LOCALOBS_REPLAY_MODEL": "m"}
    done = subprocess.run(
        [sys.executable, "-m", "localobs", "replay", "--db", str(db), str(call_id)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and f"cannot reach {dead}" in done.stderr


def test_a_json_constrained_call_is_replayed_constrained_and_parses_are_counted(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    prompt = 'Answer as JSON: {"colour": "..."}. A colour of the sky?'
    with sdk_tracer("judge-app") as tracer, tracer.start_as_current_span("chat judge") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "llama.cpp",
                "gen_ai.request.model": "judge",
                "gen_ai.request.max_tokens": 40,
                "gen_ai.request.temperature": 0.0,
                "gen_ai.output.type": "json",
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
                ),
            }
        )
    db = receiver.store.path
    done = replay(db, "1", "-n", "2", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (found,) = report["spreads"]
    assert found["json_parsed"] is not None
    parsed = sum(1 for run in report["runs"] if _parses(run["text"]))
    assert found["json_parsed"] == parsed
    assert all(run["text"].lstrip().startswith("{") for run in report["runs"])
    with Store(db).reader() as conn:
        replayed = get_call(conn, report["runs"][0]["call_id"])
    assert replayed is not None and replayed.attributes["gen_ai.output.type"] == "json"


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_only_chat_calls_are_replayed(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    with sdk_tracer("rag") as tracer, tracer.start_as_current_span("embeddings m") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "embeddings",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "m",
            }
        )
    done = replay(receiver.store.path, "1")
    assert done.returncode == 1
    assert "call 1 is an 'embeddings' call: only chat calls are replayed" in done.stderr


def test_a_gguf_of_ones_own_replaces_the_bundled_model(original: tuple[Path, int]) -> None:
    db, call_id = original
    done = replay(db, str(call_id), "-n", "1", "--gguf", str(gguf_path()), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["backend"].startswith(gguf_path().name.removesuffix(".gguf"))
    assert len(report["runs"]) == 1 and report["runs"][0]["text"]


def test_a_stop_during_a_runs_commit_waits_for_its_report() -> None:
    """The hold is checked by the handler itself, wherever the signal was delivered (a signal
    mask held only for the main thread: the viewer's escape, delivered to another thread, once
    cut a commit short, and the writer stored a run the viewer never heard of)."""
    stops = StopSignals()
    previous = signal.signal(signal.SIGTERM, stops)
    other = threading.Thread(target=time.sleep, args=(2,), daemon=True)
    other.start()
    try:
        stops.hold()
        # The main thread blocks the signal, so the kernel gives it to the other thread.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler has run in the main thread by now, inside the hold
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        with pytest.raises(KeyboardInterrupt):
            stops.release()
        stops.release()  # nothing pending any more
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        signal.signal(signal.SIGTERM, previous)
