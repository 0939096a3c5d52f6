"""Clustering replay outputs and their spread, on fixed texts (pure functions, no model)."""

from __future__ import annotations

from localobs.replay.runs import RunResult
from localobs.replay.spread import cluster_texts, quantiles, spread, spreads
from localobs.store import Store
from localobs.store.components import component_stats
from localobs.store.replays import REPLAY_SERVICE
from tests.query_rows import MS, T0, call, fold, submit


def run(number: int, text: str, **fields: object) -> RunResult:
    values: dict[str, object] = {
        "run": number,
        "temperature": 0.7,
        "text": text,
        "finish_reason": "stop",
        "input_tokens": 20,
        "output_tokens": 10 + number,
        "duration_ms": 100.0 * number,
        "ttft_ms": 10.0 * number,
        "start_unix_nano": number,
    }
    values.update(fields)
    return RunResult(**values)  # type: ignore[arg-type]


def test_identical_texts_ignore_case_and_whitespace() -> None:
    texts = ["Paris.", "paris.", "  Paris.\n", "London."]
    assert cluster_texts(texts) == [[0, 1, 2], [3]]


def test_near_identical_texts_join_a_cluster_and_different_ones_do_not() -> None:
    texts = [
        "The capital of France is Paris, a city on the Seine.",
        "The capital of France is Paris, a city on the Seine!",  # one character apart
        "Berlin is the capital of Germany.",
        "The capital of France is Paris, the city on the Seine.",  # one word apart
        "I don't know.",
    ]
    assert cluster_texts(texts) == [[0, 1, 3], [2], [4]]


def test_the_biggest_cluster_comes_first_and_ties_keep_their_order() -> None:
    texts = ["a", "b", "b", "c", "c", "c", "d"]
    assert cluster_texts(texts) == [[3, 4, 5], [1, 2], [0], [6]]


def test_spread_marks_the_originals_cluster_without_counting_it() -> None:
    results = [run(1, "Red."), run(2, "Blue."), run(3, "red."), run(4, "Green, then blue.")]
    found = spread(results, original="RED.")
    assert [(c.count, c.runs, c.has_original) for c in found.clusters] == [
        ((2, (1, 3), True)),
        ((1, (2,), False)),
        ((1, (4,), False)),
    ]
    assert found.runs == 4 and found.clusters[0].identical


def test_quantiles_are_values_of_real_runs() -> None:
    q = quantiles([5, 1, 3, None, 9, 7])
    assert q is not None
    assert (q.min, q.p50, q.p95, q.max) == (1, 5, 9, 9)
    assert quantiles([None, None]) is None


def test_figures_finish_reasons_failures_and_json_parsing() -> None:
    results = [
        run(1, '{"score": 0.5}'),
        run(2, '{"score": 0.5}', finish_reason="length"),
        run(3, '{"score": '),
        run(4, "", error="boom"),
    ]
    found = spread(results, json_output=True)
    assert found.runs == 3 and found.failed == 1
    assert found.json_parsed == 2
    assert found.finish_reasons == (("stop", 2), ("length", 1))
    assert found.output_tokens is not None and found.output_tokens.max == 13
    assert found.ttft_ms is not None and found.ttft_ms.min == 10.0
    assert spread(results).json_parsed is None


def test_a_temperature_sweep_gives_one_spread_per_temperature_in_order() -> None:
    results = [run(1, "a", temperature=0.0), run(2, "a", temperature=0.0)]
    results += [run(3, "b", temperature=1.0), run(4, "c", temperature=1.0)]
    found = spreads(results)
    assert [(s.temperature, len(s.clusters)) for s in found] == [(0.0, 1), (1.0, 2)]


def test_replays_stay_out_of_the_components_folded_or_not(store: Store) -> None:
    app_call = call(1, 1, start_ms=0, duration_ms=100, service="app")
    replayed = call(2, 1, start_ms=0, duration_ms=900, service=REPLAY_SERVICE)
    submit(store, [app_call, replayed])

    def clock() -> int:
        return T0 + 60_000 * MS

    for _state in ("tail", "folded"):
        found = component_stats(store.reader(), clock, None)
        assert [(c.name, c.count, c.total_ms) for c in found] == [("chat model-a", 1, 100.0)]
        fold(store)
