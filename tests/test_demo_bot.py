"""The demo bot's data and decision logic, plus one in-process run with real inference."""

from __future__ import annotations

import json
import time

import pytest

from demo_bot import prompts
from demo_bot.dataset import LEVELS, Session, load_questions, load_sessions, load_topics
from demo_bot.flow import FlowConfig, Scored, Step, after_evaluate, closest, evaluate
from demo_bot.genai import input_messages_json, output_messages_json, system_instructions_json
from demo_bot.retriever import Candidate
from demo_bot.telemetry import CAPTURE_CONTENT_ENV, capture_content_enabled
from tests.conftest import RunningReceiver


def _scored(score: float, similarity: float, n: int = 0) -> Scored:
    session = Session(
        id=f"T-{n}", title=f"Talk {n}", abstract="A talk.", track="Testing", level="beginner",
        speaker="Ada Example", company="Example", day="Day 1", start="09:00", end="09:40",
        room="Hall A",
    )  # fmt: skip
    return Scored(Candidate(session, similarity), score)


def test_the_program_is_a_valid_dataset() -> None:
    sessions = load_sessions()
    assert len(sessions) >= 60
    assert len({s.title for s in sessions}) == len(sessions)
    assert len({s.id for s in sessions}) == len(sessions)
    assert {s.level for s in sessions} == set(LEVELS)
    assert len({s.track for s in sessions}) >= 6
    assert all(s.abstract and s.speaker and s.company and s.room for s in sessions)
    assert all(s.day in {"Day 1", "Day 2"} and s.start < s.end for s in sessions)
    # No room hosts two talks at once.
    slots = [(s.day, s.start, s.room) for s in sessions]
    assert len(set(slots)) == len(slots)


def test_questions_and_topics_are_shipped() -> None:
    questions = load_questions()
    assert len(questions) >= 10
    assert len(set(questions)) == len(questions)
    topics = load_topics()
    assert len(set(topics)) == len(topics) >= 20


def test_evaluate_is_enough_only_when_a_score_reaches_the_threshold() -> None:
    assert evaluate([_scored(0.5, 0.9, 1), _scored(0.0, 0.8, 2)], 0.75, 3) == []
    picks = evaluate([_scored(0.5, 0.9, 1), _scored(1.0, 0.2, 2), _scored(0.0, 0.8, 3)], 0.75, 3)
    # Best score first, then similarity; a candidate judged irrelevant is never picked.
    assert [p.candidate.session.id for p in picks] == ["T-2", "T-1"]


def test_evaluate_keeps_at_most_max_picks_ordered_by_score_then_similarity() -> None:
    scored = [_scored(1.0, 0.1, 1), _scored(1.0, 0.7, 2), _scored(0.5, 0.9, 3)]
    scored.append(_scored(1.0, 0.4, 4))
    assert [p.candidate.session.id for p in evaluate(scored, 1.0, 2)] == ["T-2", "T-4"]


@pytest.mark.parametrize(
    ("enough", "round_number", "expected"),
    [
        (True, 1, Step.RESPOND),
        (False, 1, Step.KEYWORDS),
        (False, 2, Step.KEYWORDS),
        (False, 3, Step.RESPOND),
        (True, 3, Step.RESPOND),
    ],
)
def test_the_flow_looks_for_keywords_at_most_until_the_last_round(
    enough: bool, round_number: int, expected: Step
) -> None:
    assert after_evaluate(enough, round_number, FlowConfig().max_rounds) is expected


def test_closest_is_the_fallback_when_no_round_was_enough() -> None:
    seen = [_scored(0.0, 0.9, 1), _scored(0.5, 0.1, 2), _scored(0.0, 0.3, 3)]
    assert [p.candidate.session.id for p in closest(seen, 2)] == ["T-2", "T-1"]


def test_judge_and_keyword_grammars_compile_in_llama_cpp() -> None:
    from llama_cpp import LlamaGrammar

    LlamaGrammar.from_string(prompts.judge_grammar(5), verbose=False)
    LlamaGrammar.from_string(prompts.keywords_grammar(load_topics()), verbose=False)


def test_judge_verdicts_become_scores_and_bad_shapes_are_refused() -> None:
    assert prompts.parse_scores('{"relevant": ["yes", "maybe", "no"]}', 3) == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError):
        prompts.parse_scores('{"relevant": ["yes"]}', 3)
    with pytest.raises(ValueError):
        prompts.parse_scores('{"relevant": ["yes", "no', 2)  # cut off by max_tokens


def test_keywords_drop_repeats() -> None:
    text = '{"keywords": ["gitops", "service mesh", "gitops"]}'
    assert prompts.parse_keywords(text) == ["gitops", "service mesh"]


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (False, None, True),
        (True, None, False),
        (False, "false", False),
        (False, "FALSE", False),
        (False, "true", True),
        (True, "true", False),
    ],
)
def test_content_capture_follows_the_flag_and_the_standard_variable(
    monkeypatch: pytest.MonkeyPatch, flag: bool, env: str | None, expected: bool
) -> None:
    if env is None:
        monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    else:
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, env)
    assert capture_content_enabled(flag) is expected


def test_messages_use_the_current_semconv_shapes() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert json.loads(system_instructions_json(messages) or "") == [
        {"type": "text", "content": "Be brief."}
    ]
    assert json.loads(input_messages_json(messages)) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi?"}]}
    ]
    assert json.loads(output_messages_json("Hello.", "stop")) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello."}],
            "finish_reason": "stop",
        }
    ]


@pytest.mark.slow
def test_an_unsatisfied_question_searches_with_keywords_then_answers_from_the_dataset() -> None:
    """Real inference, telemetry off: a threshold no verdict reaches forces every round."""
    from demo_bot.app import build_bot
    from demo_bot.llm import ModelOptions
    from demo_bot.telemetry import setup_telemetry

    telemetry = setup_telemetry(enabled=False)
    bot, times = build_bot(ModelOptions(seed=7), FlowConfig(threshold=1.5, max_tokens=8), telemetry)
    assert times.model_load_s < 10
    written: list[str] = []
    answer = bot.ask("Which sessions should I attend about GitOps?", written.append)

    assert answer.text == "".join(written)
    assert 2 <= answer.rounds <= FlowConfig().max_rounds
    assert answer.keywords and set(answer.keywords) <= set(load_topics())
    assert not answer.strong_match
    assert "no session is a strong match" in answer.text
    assert "search for the keywords" in answer.text
    titles = {s.title for s in load_sessions()}
    assert answer.sessions and all(s.title in titles for s in answer.sessions)
    assert all(s.title in answer.text for s in answer.sessions)


def test_models_load_without_llama_cpps_extra_buffer_types_unless_asked() -> None:
    """With them, llama.cpp repacks weights for AMX and crashes on the first decode on CPUs with
    AMX (llama.cpp #20824); `--extra-bufts` turns the fast path back on. Loading alone is safe."""
    import llama_cpp.llama_cpp as native

    from demo_bot.cli import build_parser
    from demo_bot.llm import ChatModel, ModelOptions
    from demo_bot.telemetry import setup_telemetry

    telemetry = setup_telemetry(enabled=False)
    assert ChatModel(ModelOptions(), telemetry)._llm.model_params.use_extra_bufts is False
    fast = ModelOptions(extra_bufts=build_parser().parse_args(["--extra-bufts"]).extra_bufts)
    assert ChatModel(fast, telemetry)._llm.model_params.use_extra_bufts is True
    assert native.llama_model_default_params().use_extra_bufts is True  # only while loading


def test_each_visitor_asks_one_or_two_follow_ups_in_one_conversation() -> None:
    from demo_bot.cli import visits
    from demo_bot.flow import FOLLOW_UPS

    asked = list(visits(["first?", "second?"]))
    assert [question for question, _ in asked] == [
        "first?",
        FOLLOW_UPS[0],
        "second?",
        FOLLOW_UPS[1],
        FOLLOW_UPS[2],
    ]
    ids = [conversation.id for _, conversation in asked]
    assert ids[0] == ids[1] != ids[2] == ids[3] == ids[4]
    conversation = asked[0][1]
    assert conversation.topic("again?") == "again?"
    conversation.add("first?", "Talk A.")
    assert conversation.topic("which?") == "first? which?"


def test_the_bots_spans_reach_the_viewer_within_a_second_of_ending(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The viewer is live: a question's run must not wait for the SDK's default 5 s batch delay
    (unless the user sets OTEL_BSP_SCHEDULE_DELAY, as for any OTel SDK app)."""
    from demo_bot.telemetry import setup_telemetry

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.delenv("OTEL_BSP_SCHEDULE_DELAY", raising=False)
    telemetry = setup_telemetry()
    try:
        with telemetry.tracer.start_as_current_span("question"):
            pass
        ended = time.monotonic()
        conn = receiver.store.reader()
        stored = "SELECT count(*) FROM spans WHERE name = 'question'"
        while not conn.execute(stored).fetchone()[0] and time.monotonic() - ended < 3:
            time.sleep(0.05)
        arrived = time.monotonic() - ended
        conn.close()
        assert arrived < 1.5, f"the span took {arrived:.1f} s to arrive"
    finally:
        telemetry.shutdown()
