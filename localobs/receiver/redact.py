"""Credentials in telemetry replaced by a visible mark at ingest, before anything is stored.

Coding agents read `.env` files into their prompts, users paste keys, and instrumentation records
it all verbatim. Every string of a decoded batch (span and log attributes, log bodies, message
content, events, links, resource and scope attributes, names) is searched for well-known credential
formats; each found is replaced by `[redacted:<kind>]`, and the batch counts them per kind.

Ingest runs at ~40 k spans/s, so clean text must cost almost nothing: one Aho-Corasick pass (SIMD,
~0.1 ns a byte) over the request body looks for a literal that each format contains, and a body
without any, nearly every body, is not looked at again. Otherwise resources and scopes are redacted
in the request itself (their ids are digests of their content), and after decoding each row's
strings are searched together, then each string holding a literal goes through the regular
expression of that literal's format.

Rows hold the stored column values, JSON text included, so no pattern takes a `"` or a lone
backslash: a match never ends inside a JSON string's escape sequence. The marks match no pattern,
so redacting redacted text (an export imported again) changes and counts nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import MATCHKIND_LEFTMOST_FIRST, BytesAhoCorasick
from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from localobs.receiver.bodies import Format
from localobs.receiver.envelope import Rejections
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
        r"(?:\\*[\"'])?[ \t]*[:=][ \t]*(?:\\*[\"'])?"
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
# Leftmost-first matching is what lets the library use its SIMD searcher (bytes: searching a str
# is several times slower). Where two literals start alike ("sk-ant-", "sk-") the longer comes
# first and wins, which names the right format; no literal begins inside another.
_SEARCH = BytesAhoCorasick(
    [literal.encode() for literal, _ in _LITERALS], matchkind=MATCHKIND_LEFTMOST_FIRST
)
# In OTLP/JSON a string can spell a literal with \u escapes (or "://" as ":\/\/").
_JSON_ESCAPES = (b"\\u", b"\\/")
# Where resources and scopes sit in each request type.
_ENVELOPES = {
    "ExportTraceServiceRequest": ("resource_spans", "scope_spans"),
    "ExportLogsServiceRequest": ("resource_logs", "scope_logs"),
    "ExportMetricsServiceRequest": ("resource_metrics", "scope_metrics"),
}


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
    return bool(_SEARCH.find_matches_as_indexes(body))


def redact_text(text: str, counts: Counter[str]) -> str:
    """`text` with each credential replaced by its mark, counted per kind in `counts`."""
    hits = _SEARCH.find_matches_as_indexes(text.encode())
    if not hits:
        return text
    formats = sorted({_LITERALS[index][1] for index, _, _ in hits}, key=lambda f: _ORDER[f.kind])
    for each in formats:
        text, found = each.pattern.subn(_REPLACERS[each.kind], text)
        if found:
            counts[each.kind] += found
    return text


def _redact_any_value(value: AnyValue, counts: Counter[str]) -> None:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        text = value.string_value
        redacted = redact_text(text, counts)
        if redacted != text:
            value.string_value = redacted
    elif kind == "array_value":
        for item in value.array_value.values:
            _redact_any_value(item, counts)
    elif kind == "kvlist_value":
        for pair in value.kvlist_value.values:
            _redact_any_value(pair.value, counts)


def _redact_envelopes(request: Message, counts: Counter[str]) -> None:
    """Resources and scopes in the request itself: their ids are digests of their content, which
    must be that of the redacted content (a digest of a weak password could be brute-forced)."""
    resource_field, scope_field = _ENVELOPES[request.DESCRIPTOR.name]
    for envelope in getattr(request, resource_field):
        for pair in envelope.resource.attributes:
            _redact_any_value(pair.value, counts)
        for scoped in getattr(envelope, scope_field):
            scope = scoped.scope
            scope.name = redact_text(scope.name, counts)
            scope.version = redact_text(scope.version, counts)
            for pair in scope.attributes:
                _redact_any_value(pair.value, counts)


def _redact_rows(rows: list[Row], counts: Counter[str]) -> None:
    """Each row's strings are searched together, then one by one where a literal was found."""
    for number, row in enumerate(rows):
        strings = "\x00".join([value for value in row if type(value) is str])
        if _SEARCH.find_matches_as_indexes(strings.encode()):
            rows[number] = tuple(
                redact_text(value, counts) if type(value) is str else value for value in row
            )


Decoder = Callable[[Any, str], tuple[Batch, Rejections]]


def decode_redacted(
    decode: Decoder, request: Message, digest: str, body: bytes, fmt: Format
) -> tuple[Batch, Rejections]:
    """`decode(request, digest)` with every string the batch will store redacted; the batch
    carries the count per kind. `body` is the request's: when it holds no literal of any format,
    nothing more is looked at."""
    counts: Counter[str] = Counter()
    suspect = body_may_hold_credentials(body, fmt)
    if suspect:
        _redact_envelopes(request, counts)
    batch, rejections = decode(request, digest)
    if suspect:
        for rows in (batch.rows, batch.genai, batch.derived):
            _redact_rows(rows, counts)
    batch.redactions = dict(counts)
    return batch, rejections
