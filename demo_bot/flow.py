"""The recommender as an explicit state machine, one trace (one agent run) per question.

retrieve -> judge -> evaluate -> respond, or evaluate -> keywords -> retrieve again (at most
`max_rounds` retrievals). Each step is a span under the run's `invoke_agent` root span; the
steps that call a model add the GenAI `embeddings` / `chat` spans beneath them. A visitor's
follow-up questions belong to the same conversation (`gen_ai.conversation.id`), and the answer
step sees the conversation so far, so its context grows turn by turn.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from opentelemetry.trace import Span, SpanKind

from demo_bot import prompts
from demo_bot.dataset import CONFERENCE, Session
from demo_bot.genai import Message, input_messages_json, mark_error, output_messages_json
from demo_bot.llm import ChatModel, ChatResult
from demo_bot.retriever import Candidate, Retriever
from demo_bot.telemetry import Telemetry

log = logging.getLogger("demo_bot.flow")

AGENT_NAME = "session-recommender"
DATA_SOURCE = "conference-sessions"
# What a visitor asks after a first answer; the bot answers them within the same conversation.
FOLLOW_UPS = (
    "Which of those suits a beginner?",
    "Are any of them on Day 2?",
    "Who gives the first one?",
)
_HISTORY_MESSAGES = 4  # the last two questions and answers, to keep the small model's prompt short

Writer = Callable[[str], None]


class Step(StrEnum):
    RETRIEVE = "retrieve"
    JUDGE = "judge"
    EVALUATE = "evaluate"
    KEYWORDS = "keywords"
    RESPOND = "respond"


@dataclass(frozen=True, slots=True)
class FlowConfig:
    k: int = 5
    threshold: float = 0.75
    max_rounds: int = 3
    max_picks: int = 3
    max_tokens: int = 64
    """Token budget of the streamed recommendation; JSON steps use what their grammar needs."""
    answer_temperature: float = 0.7
    """Above 0, so that replaying the answer shows how much it varies (the talk's point)."""


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    score: float

    @property
    def rank_key(self) -> tuple[float, float]:
        return (self.score, self.candidate.similarity)


def evaluate(scored: Sequence[Scored], threshold: float, max_picks: int) -> list[Scored]:
    """Empty ("not enough") unless a score reaches `threshold`; then the candidates judged at
    least partly relevant, best first."""
    if not any(s.score >= threshold for s in scored):
        return []
    relevant = [s for s in scored if s.score > 0]
    return sorted(relevant, key=lambda s: s.rank_key, reverse=True)[:max_picks]


def after_evaluate(enough: bool, round_number: int, max_rounds: int) -> Step:
    """Respond when enough was found or the rounds are used up; else look for better keywords."""
    return Step.RESPOND if enough or round_number >= max_rounds else Step.KEYWORDS


def closest(seen: Sequence[Scored], max_picks: int) -> list[Scored]:
    """Fallback picks when no round reached the threshold: best score, then similarity."""
    return sorted(seen, key=lambda s: s.rank_key, reverse=True)[:max_picks]


@dataclass
class Conversation:
    """One visitor's questions and the bot's answers so far; the id is the application's own,
    sent as `gen_ai.conversation.id` so that the turns can be grouped."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    history: list[Message] = field(default_factory=list)

    def topic(self, question: str) -> str:
        """What to search and judge: a follow-up is read with the visitor's first question."""
        return f"{self.history[0]['content']} {question}" if self.history else question

    def add(self, question: str, answer: str) -> None:
        self.history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]


@dataclass
class FlowState:
    question: str
    query: str
    round: int = 1
    candidates: list[Candidate] = field(default_factory=list)
    scored: list[Scored] = field(default_factory=list)
    seen: dict[str, Scored] = field(default_factory=dict)
    picks: list[Scored] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    strong_match: bool = False
    history: list[Message] = field(default_factory=list)
    llm_calls: int = 0
    output_tokens: int = 0

    def count(self, result: ChatResult) -> ChatResult:
        self.llm_calls += 1
        self.output_tokens += result.output_tokens or 0
        return result


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    sessions: list[Session]
    rounds: int
    keywords: list[str]
    strong_match: bool
    llm_calls: int
    output_tokens: int


class SessionBot:
    """Answers "which sessions should I attend about X?" with sessions from the dataset."""

    def __init__(
        self,
        model: ChatModel,
        retriever: Retriever,
        topics: Sequence[str],
        telemetry: Telemetry,
        config: FlowConfig | None = None,
    ) -> None:
        self._model = model
        self._retriever = retriever
        self._keywords_grammar = prompts.keywords_grammar(topics)
        self._tracer = telemetry.tracer
        self._capture = telemetry.capture_content
        self.config = config or FlowConfig()
        self._steps: dict[Step, Callable[[FlowState, Span, Writer], Step | None]] = {
            Step.RETRIEVE: self._retrieve,
            Step.JUDGE: self._judge,
            Step.EVALUATE: self._evaluate,
            Step.KEYWORDS: self._keywords,
            Step.RESPOND: self._respond,
        }

    def ask(self, question: str, write: Writer, conversation: Conversation | None = None) -> Answer:
        """Run the state machine for one question, streaming the answer through `write`; a
        `conversation` gives it the visitor's earlier turns and records this one."""
        pieces: list[str] = []

        def emit(text: str) -> None:
            pieces.append(text)
            write(text)

        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT_NAME}
        if conversation is not None:
            attributes["gen_ai.conversation.id"] = conversation.id
        with self._tracer.start_as_current_span(
            f"invoke_agent {AGENT_NAME}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as root:
            if self._capture:
                root.set_attribute(
                    "gen_ai.input.messages",
                    input_messages_json([{"role": "user", "content": question}]),
                )
            log.info("question received (%d characters)", len(question))
            topic = conversation.topic(question) if conversation else question
            state = FlowState(question=topic, query=topic)
            if conversation is not None:
                state.history = conversation.history[-_HISTORY_MESSAGES:]
            step: Step | None = Step.RETRIEVE
            try:
                while step is not None:
                    step = self._run_step(step, state, emit)
            except BaseException as exc:  # Ctrl-C and SIGTERM too: the trace says it stopped
                log.error("question failed: %s", mark_error(root, exc))
                raise
            answer = Answer(
                text="".join(pieces),
                sessions=[p.candidate.session for p in state.picks],
                rounds=state.round,
                keywords=state.keywords,
                strong_match=state.strong_match,
                llm_calls=state.llm_calls,
                output_tokens=state.output_tokens,
            )
            if conversation is not None:
                conversation.add(question, answer.text)
            root.set_attribute("session_bot.rounds", answer.rounds)
            root.set_attribute("session_bot.keywords_used", bool(answer.keywords))
            root.set_attribute("session_bot.strong_match", answer.strong_match)
            root.set_attribute("session_bot.session_ids", [s.id for s in answer.sessions])
            if self._capture:
                root.set_attribute(
                    "gen_ai.output.messages", output_messages_json(answer.text, "stop")
                )
            return answer

    def _run_step(self, step: Step, state: FlowState, write: Writer) -> Step | None:
        name = f"retrieval {DATA_SOURCE}" if step is Step.RETRIEVE else step.value
        with self._tracer.start_as_current_span(
            name,
            attributes={"session_bot.step": step.value, "session_bot.round": state.round},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                return self._steps[step](state, span, write)
            except BaseException as exc:
                mark_error(span, exc)
                raise

    def _retrieve(self, state: FlowState, span: Span, _write: Writer) -> Step:
        span.set_attribute("gen_ai.operation.name", "retrieval")
        span.set_attribute("gen_ai.data_source.id", DATA_SOURCE)
        span.set_attribute("gen_ai.retrieval.top_k", self.config.k)
        if self._capture:
            span.set_attribute("gen_ai.retrieval.query.text", state.query)
        state.candidates = found = self._retriever.search(state.query, self.config.k)
        documents = [{"id": c.session.id, "score": round(c.similarity, 4)} for c in found]
        span.set_attribute("gen_ai.retrieval.documents", json.dumps(documents))
        log.info("round %d: retrieved %d candidates", state.round, len(state.candidates))
        return Step.JUDGE

    def _judge(self, state: FlowState, span: Span, _write: Writer) -> Step:
        """Verdicts for the candidates not judged in an earlier round, in one LLM call."""
        fresh = [c for c in state.candidates if c.session.id not in state.seen]
        span.set_attribute("session_bot.judged", len(fresh))
        if fresh:
            for candidate, score in zip(fresh, self._verdicts(state, fresh, span), strict=True):
                state.seen[candidate.session.id] = Scored(candidate, score)
        state.scored = [state.seen[c.session.id] for c in state.candidates]
        scores = [s.score for s in state.scored]
        span.set_attribute("session_bot.scores", scores)
        log.info("round %d: judge scores %s", state.round, scores)
        return Step.EVALUATE

    def _verdicts(self, state: FlowState, fresh: list[Candidate], span: Span) -> list[float]:
        sessions = [c.session for c in fresh]
        result = state.count(
            self._model.complete(
                prompts.judge_messages(state.question, sessions),
                max_tokens=prompts.judge_max_tokens(len(sessions)),
                grammar=prompts.judge_grammar(len(sessions)),
            )
        )
        try:
            return prompts.parse_scores(result.text, len(sessions))
        except (ValueError, KeyError, TypeError) as exc:
            # The judge failed (e.g. cut off by max_tokens): fall back to similarity, visibly.
            mark_error(span, exc)
            log.warning("judge output unusable (%s); using similarity", type(exc).__name__)
            return [max(0.0, c.similarity) for c in fresh]

    def _evaluate(self, state: FlowState, span: Span, _write: Writer) -> Step:
        judged = list(state.seen.values())
        state.picks = evaluate(judged, self.config.threshold, self.config.max_picks)
        enough = bool(state.picks)
        state.strong_match = enough
        span.set_attribute("session_bot.threshold", self.config.threshold)
        best = max((s.score for s in state.scored), default=0.0)
        span.set_attribute("session_bot.best_score", best)
        span.set_attribute("session_bot.enough", enough)
        following = after_evaluate(enough, state.round, self.config.max_rounds)
        if following is Step.RESPOND and not enough:
            state.picks = closest(judged, self.config.max_picks)
        log.info("round %d: enough=%s, next step %s", state.round, enough, following.value)
        return following

    def _keywords(self, state: FlowState, span: Span, _write: Writer) -> Step:
        result = state.count(
            self._model.complete(
                prompts.keywords_messages(state.question, state.keywords),
                max_tokens=prompts.KEYWORDS_MAX_TOKENS,
                grammar=self._keywords_grammar,
            )
        )
        try:
            keywords = prompts.parse_keywords(result.text)
        except (ValueError, KeyError, TypeError) as exc:
            mark_error(span, exc)
            log.warning("keyword output unusable (%s); answering with what was found",
                        type(exc).__name__)  # fmt: skip
            state.picks = closest(list(state.seen.values()), self.config.max_picks)
            return Step.RESPOND
        query = " ".join(keywords)
        if query == state.query:
            log.info("keywords repeat the last search; answering with what was found")
            state.picks = closest(list(state.seen.values()), self.config.max_picks)
            return Step.RESPOND
        state.keywords = keywords
        state.query = query
        state.round += 1
        span.set_attribute("session_bot.keyword_count", len(keywords))
        if self._capture:
            span.set_attribute("session_bot.keywords", keywords)
            log.info("searching again with keywords: %s", ", ".join(keywords))
        else:
            log.info("searching again with %d keywords", len(keywords))
        return Step.RETRIEVE

    def _respond(self, state: FlowState, span: Span, write: Writer) -> None:
        sessions = [p.candidate.session for p in state.picks]
        span.set_attribute("session_bot.session_ids", [s.id for s in sessions])
        write(f"Sessions for you at {CONFERENCE}:\n")
        for number, session in enumerate(sessions, 1):
            write(f"  {number}. {session.listing()}\n")
        write("\n")
        messages = prompts.respond_messages(state.question, sessions)
        state.count(
            self._model.stream(
                [*messages[:1], *state.history, *messages[1:]],
                write,
                max_tokens=self.config.max_tokens,
                temperature=self.config.answer_temperature,
            )
        )
        write("\n")
        if not state.strong_match:
            write("Note: no session is a strong match for your question; these are the closest.\n")
        if state.keywords:
            write(
                "Note: your question did not match the program directly, so these come from a "
                f"search for the keywords: {', '.join(state.keywords)}.\n"
            )
        log.info("answered with %d sessions after %d rounds", len(sessions), state.round)
