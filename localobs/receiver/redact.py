"""Credentials in telemetry replaced by a visible mark at ingest, before anything is stored.

Coding agents read `.env` files into their prompts, users paste keys, and instrumentation records
it all verbatim. Every string of a decoded batch (span and log attributes, log bodies, message
content, events, links, resource and scope attributes, names) is searched for well-known credential
formats; each found is replaced by `[redacted:<kind>]`, and the batch counts them per kind.

Ingest runs at ~40 k spans/s, so clean text must cost almost nothing: one Aho-Corasick pass (SIMD,
~0.1 ns a byte) over the request body looks for a literal that each format contains, and a body
without any, nearly every body, is not looked at again. Otherwise each string that holds a literal
goes through the regular expression of that literal's format.

The strings searched are the stored column values, JSON text included, so no pattern takes a `"`
or a lone backslash: a match never ends inside a JSON string's escape sequence. The marks match no
pattern, so redacting redacted text (an export imported again) changes and counts nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ahocorasick_rs import MATCHKIND_LEFTMOST_FIRST, AhoCorasick, BytesAhoCorasick

from localobs.receiver.bodies import Format
from localobs.store.batch import Batch, Row

# Not preceded by a character that could belong to the same token ("task-..." is no "sk-" key),
# except the n of a JSON newline escape.
_START = r"(?:(?<![A-Za-z0-9_-])|(?<=\\[nrt]))"
_END = r"(?![A-Za-z0-9_-])"


@dataclass(frozen=True)
class CredentialFormat:
    """`pattern` finds the credential; its group `secret`, when it has one, is the part replaced
    (a URL keeps its user and host, a header its `Bearer`). Every match contains a literal."""

    kind: str
    literals: tuple[str, ...]
    pattern: re.Pattern[str]


def _format(kind: str, literals: tuple[str, ...], pattern: str) -> CredentialFormat:
    return CredentialFormat(kind, literals, re.compile(pattern))


# Most specific first: a format's marks are left alone by the ones after it.
FORMATS: tuple[CredentialFormat, ...] = (
    _format("anthropic-key", ("sk-ant-",), _START + r"sk-ant-[A-Za-z0-9_-]{20,}"),
    _format("openrouter-key", ("sk-or-",), _START + r"sk-or-v1-[A-Za-z0-9]{32,}" + _END),
    _format(
        "openai-key",
        ("sk-",),
        _START + r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{32,}" + _END + ")",
    ),
    _format("google-api-key", ("AIza",), _START + r"AIza[A-Za-z0-9_-]{35}" + _END),
    _format("groq-key", ("gsk_",), _START + r"gsk_[A-Za-z0-9]{48,}" + _END),
    _format("xai-key", ("xai-",), _START + r"xai-[A-Za-z0-9]{60,}" + _END),
    _format("huggingface-token", ("hf_",), _START + r"hf_[A-Za-z0-9]{30,}" + _END),
    _format(
        "stripe-key",
        ("k_live_", "k_test_"),
        _START + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}" + _END,
    ),
    _format(
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        _START + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})" + _END,
    ),
    _format("slack-token", ("xox",), _START + r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    _format(
        "aws-access-key-id",
        ("AKIA", "ASIA"),
        r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])",
    ),
    # A secret access key is 40 characters of base64 with no prefix: found only where labelled,
    # as in ~/.aws/credentials, .env files, and the JSON of the AWS SDKs and STS.
    _format(
        "aws-secret-key",
        ("secret_access_key", "SECRET_ACCESS_KEY", "ecretAccessKey"),
        r"(?:(?:aws_)?secret_access_key|(?:AWS_)?SECRET_ACCESS_KEY|[Ss]ecretAccessKey)"
        r"(?:\\?[\"'])?[ \t]*[:=][ \t]*(?:\\?[\"'])?"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
    ),
    # The whole block; a block cut short (by a length limit) up to where its base64 ends.
    _format(
        "private-key",
        ("PRIVATE KEY",),
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[^\"]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:[A-Za-z0-9+/=\s:,-]|\\[nrt])*)",
    ),
    # Last: an API key sent as a bearer token is already marked by its own format above.
    _format(
        "bearer-token",
        ("earer", "EARER"),
        r"(?:[Bb]earer|BEARER)[ \t]+"
        r"(?P<secret>(?=[A-Za-z0-9._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{16,})",
    ),
    _format(
        "url-password",
        ("://",),
        r"://[^\s/?#@:\"\\]*:(?P<secret>(?!\[redacted:)[^\s/?#@\"\\]+)@",
    ),
)

_LITERALS = [(literal, each) for each in FORMATS for literal in each.literals]
# Leftmost-first matching is what lets the library use its SIMD searcher; any literal present
# gives at least one match, which is all the body check needs.
_BODY_LITERALS = BytesAhoCorasick(
    [literal.encode() for literal, _ in _LITERALS], matchkind=MATCHKIND_LEFTMOST_FIRST
)
# Per string, overlapping matches: every format whose literal occurs is tried.
_TEXT_LITERALS = AhoCorasick([literal for literal, _ in _LITERALS])
# In OTLP/JSON a string can spell a literal with \u escapes (or "://" as ":\/\/").
_JSON_ESCAPES = (b"\\u", b"\\/")


def mark(kind: str) -> str:
    return f"[redacted:{kind}]"


def _replacer(kind: str, pattern: re.Pattern[str]) -> Callable[[re.Match[str]], str]:
    replacement = mark(kind)
    if "secret" not in pattern.groupindex:
        return lambda _match: replacement

    def keep_context(match: re.Match[str]) -> str:
        start, end = match.span("secret")
        text = match.string
        return text[match.start() : start] + replacement + text[end : match.end()]

    return keep_context


_REPLACERS = {each.kind: _replacer(each.kind, each.pattern) for each in FORMATS}
_ORDER = {each.kind: number for number, each in enumerate(FORMATS)}


def body_may_hold_credentials(body: bytes, fmt: Format) -> bool:
    """False when no string decoded from `body` can hold a credential (one pass, no decoding)."""
    if fmt is Format.JSON and any(escape in body for escape in _JSON_ESCAPES):
        return True
    return bool(_BODY_LITERALS.find_matches_as_indexes(body))


def redact_text(text: str, counts: Counter[str]) -> str:
    """`text` with each credential replaced by its mark, counted per kind in `counts`."""
    hits = _TEXT_LITERALS.find_matches_as_indexes(text, overlapping=True)
    if not hits:
        return text
    formats = sorted({_LITERALS[index][1] for index, _, _ in hits}, key=lambda f: _ORDER[f.kind])
    for each in formats:
        text, found = each.pattern.subn(_REPLACERS[each.kind], text)
        if found:
            counts[each.kind] += found
    return text


def _redact_rows(rows: list[Row], counts: Counter[str]) -> None:
    for number, row in enumerate(rows):
        cleaned = tuple(
            redact_text(value, counts) if isinstance(value, str) else value for value in row
        )
        if cleaned != row:
            rows[number] = cleaned


def redact_batch(batch: Batch, body: bytes, fmt: Format) -> dict[str, int]:
    """Redact every string the batch will store, in place; returns the count per kind.

    `body` is the request the batch was decoded from: when it holds no literal of any format,
    nothing in the batch is looked at.
    """
    counts: Counter[str] = Counter()
    if body_may_hold_credentials(body, fmt):
        for rows in (batch.rows, batch.resources, batch.scopes, batch.genai):
            _redact_rows(rows, counts)
    return dict(counts)
