"""Prompts, output grammars and parsers for the three LLM steps.

A 135M model does not reliably follow "answer in JSON" (it tends to echo the question), so the
judge and keyword steps constrain decoding with a GBNF grammar: the output always parses, and
its shape is fixed by the grammar itself. The keyword grammar only admits topics from the
program's own vocabulary (data/topics.json): free-form, the model proposed words such as
"kube-cannibal" or "cloud-native-search-key" that match nothing.

The judge gives each candidate a verdict, "yes", "maybe" or "no", which becomes a relevance
score of 1, 0.5 or 0. Asked for numbers instead, SmolLM2-135M answered 1.0 (or, with 1.0 out
of the grammar, 0.0) for every candidate of all 12 sample questions; with words its verdicts
vary and usually agree with the embedding ranking.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from demo_bot.dataset import CONFERENCE, Session
from demo_bot.genai import Message

KEYWORD_COUNT = 3
VERDICT_SCORES = {"yes": 1.0, "maybe": 0.5, "no": 0.0}
# Enough tokens for the grammar to close its JSON (measured: 20-36 for 5 verdicts, 20-47 for
# three topics).
JUDGE_TOKENS_PER_SESSION = 6
KEYWORDS_MAX_TOKENS = 64


def _alternatives(name: str, words: Sequence[str]) -> str:
    return f"{name} ::= " + " | ".join(f'"\\"{w}\\""' for w in words)


def _json_list_grammar(key: str, item: str, count: int, rule: str) -> str:
    items = ' ", " '.join([item] * count)
    return f'root ::= "{{\\"{key}\\": [" {items} "]}}"\n{rule}\n'


def judge_grammar(count: int) -> str:
    """Exactly `count` verdicts."""
    return _json_list_grammar(
        "relevant", "verdict", count, _alternatives("verdict", list(VERDICT_SCORES))
    )


def keywords_grammar(topics: Sequence[str]) -> str:
    """Exactly three topics of the program (possibly repeated; the parser drops repeats)."""
    return _json_list_grammar("keywords", "kw", KEYWORD_COUNT, _alternatives("kw", topics))


def judge_max_tokens(count: int) -> int:
    return 12 + JUDGE_TOKENS_PER_SESSION * count


def judge_messages(question: str, sessions: Sequence[Session]) -> list[Message]:
    listing = "\n".join(f"{n}. {s.title}: {s.summary()}" for n, s in enumerate(sessions, 1))
    return [
        {
            "role": "system",
            "content": "You match conference sessions to a visitor's question. For each session "
            'answer "yes" if it matches the question, "maybe" if it is partly related and '
            '"no" if it does not.',
        },
        {
            "role": "user",
            "content": f"Question: {question}\n\nSessions:\n{listing}\n\n"
            "Rate each session, in order.",
        },
    ]


def keywords_messages(question: str, tried: Sequence[str] = ()) -> list[Message]:
    """`tried`: keywords of an earlier round, named so that the next round differs."""
    retry = f" These did not help: {', '.join(tried)}." if tried else ""
    return [
        {
            "role": "system",
            "content": f"You help visitors search the program of {CONFERENCE}, a cloud-native "
            "conference.",
        },
        {
            "role": "user",
            "content": f"The visitor asked: {question}\nNo session matched well.{retry} Name "
            "three conference topics that the visitor needs.",
        },
    ]


def respond_messages(question: str, sessions: Sequence[Session]) -> list[Message]:
    """Titles only: a short prompt keeps the small model on topic and the call fast."""
    titles = "; ".join(s.title for s in sessions)
    return [
        {
            "role": "system",
            "content": f"You are the helpful program assistant of {CONFERENCE}. "
            "Answer in one or two sentences.",
        },
        {
            "role": "user",
            "content": f"{question}\nI picked these talks for you: {titles}.\n"
            "Explain briefly why they are a good fit.",
        },
    ]


def parse_scores(text: str, count: int) -> list[float]:
    """Relevance scores from the judge's verdicts; ValueError if the shape is wrong."""
    verdicts = json.loads(text)["relevant"]
    if len(verdicts) != count:
        raise ValueError(f"expected {count} verdicts, got {len(verdicts)}")
    return [VERDICT_SCORES[v] for v in verdicts]


def parse_keywords(text: str) -> list[str]:
    """Distinct non-empty keywords from the keyword step's JSON."""
    keywords: list[str] = []
    for raw in json.loads(text)["keywords"]:
        word = " ".join(str(raw).split())
        if word and word not in keywords:
            keywords.append(word)
    if not keywords:
        raise ValueError("no keywords")
    return keywords
