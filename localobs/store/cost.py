"""What a model call cost: the one home of prices, local models, and costs clients report.

A cost the client reports itself wins (source `reported`); a local model costs 0 (`local`); a
cloud model found in the price table is priced from its tokens (`price_table`); anything else is
unknown (None): never guessed. The table is a dated data file in the package (list prices as of
its `as_of`), which a `prices.json` in the user's config directory overrides or extends. Nothing
is ever fetched from the network. Costs are computed at query time; the schema holds none (the
rollups keep only a cost's parts, CostParts: token counts and reported costs, so a changed price
file applies to all history).
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import platformdirs

__all__ = [
    "COST_COLUMNS_SQL",
    "COST_EXTRAS_SQL",
    "LOCAL",
    "PRICE_TABLE",
    "REPORTED",
    "REPORTED_COST_KEYS",
    "UNKNOWN",
    "Cost",
    "CostExtras",
    "CostParts",
    "CostSum",
    "Price",
    "PriceTable",
    "cache_counted_apart",
    "call_cost",
    "column_extras",
    "cost_extras",
    "cost_parts",
    "cost_text",
    "find_price",
    "is_local",
    "override_path",
    "partial_usd_text",
    "parts_cost",
    "price_table",
    "reported_cost",
    "row_cost",
    "sum_costs",
    "total_cost_text",
    "usd_delta_text",
    "usd_text",
]

log = logging.getLogger(__name__)

REPORTED, PRICE_TABLE, LOCAL = "reported", "price_table", "local"

# Providers that run the model on the user's own machine.
LOCAL_PROVIDERS = frozenset(
    {
        "llama_cpp", "llama.cpp", "llamacpp", "llama-cpp", "ollama", "vllm", "lmstudio",
        "lm_studio", "lm-studio", "llamafile", "localai", "gpt4all", "mlx", "sentence-transformers",
    }
)  # fmt: skip
# Model name prefixes of the bundled demo model (SmolLM2 on llama.cpp).
_LOCAL_MODEL_PREFIXES = ("smollm2",)
# Version suffixes a vendor appends to a model's base name: dates and `-latest`.
_SUFFIXES = re.compile(r"(-\d{4}-\d{2}-\d{2}|[-@]\d{8}|-\d{4}|-latest)$")

# Attributes a client may report a call's cost in (Claude Code's `cost_usd`; OpenLLMetry and
# Langfuse-style `gen_ai.usage.cost`; `llm.usage.cost`), then cache read and cache write tokens.
REPORTED_COST_KEYS = ("gen_ai.usage.cost", "llm.usage.cost", "cost_usd")
_CACHE_READ_KEYS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "cache_read_tokens",
)
_CACHE_WRITE_KEYS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "cache_creation_tokens",
)
_EXTRA_KEYS = (*REPORTED_COST_KEYS, *_CACHE_READ_KEYS, *_CACHE_WRITE_KEYS)
# Those attributes as one JSON array (one parse per row); rows that mention neither a cost nor a
# cache, most of them, skip the parse. Rows stored before the call-detail columns existed
# (migration 10) hold them only there.
_ATTRIBUTE_EXTRAS_SQL = (
    "CASE WHEN instr(attributes, 'cost') OR instr(attributes, 'cache')"
    " THEN json_extract(attributes, " + ", ".join(f"'$.\"{key}\"'" for key in _EXTRA_KEYS) + ") END"
)
# What a call's row adds to its token counts for pricing: the columns (a cost the client reported,
# cache reads and writes, the signal the call was derived from). Totals and rollups read these
# (the list index covers them); a single call's cost also reads the attributes.
COST_COLUMNS_SQL = "reported_cost_usd, cache_read_tokens, cache_write_tokens, derived_from"
COST_EXTRAS_SQL = (
    f"CASE WHEN coalesce({COST_COLUMNS_SQL}) IS NOT NULL"
    " OR instr(attributes, 'cost') OR instr(attributes, 'cache')"
    f" THEN json_array({COST_COLUMNS_SQL}, json({_ATTRIBUTE_EXTRAS_SQL})) END"
)
# Providers whose own usage reports count cache reads and writes apart from input tokens.
_CACHE_APART_PROVIDERS = frozenset({"anthropic", "aws.bedrock", "gcp.vertex_ai"})


class Cost(NamedTuple):
    usd: float | None  # None: unknown (no price for the model, or no token counts)
    source: str | None  # REPORTED, PRICE_TABLE, LOCAL; None when unknown


class CostExtras(NamedTuple):
    """What a call's row adds to its token counts for pricing."""

    reported: float | None
    cache_read: int | None
    cache_write: int | None
    derived: bool = False  # built from a client's log events (its own usage report), not a span


class CostParts(NamedTuple):
    """A call's cost before prices: the cost it reported, else the token counts a price table
    prices (input read from no cache, output, cache reads, cache writes). Totals sum these."""

    reported: float | None
    fresh_input: int
    output: int
    cache_read: int
    cache_write: int
    has_tokens: bool  # False: no token counts, so no price table can price it


NO_EXTRAS = CostExtras(None, None, None)
UNKNOWN = Cost(None, None)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens, and the date its file gives them for."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    as_of: str


@dataclass(frozen=True, slots=True)
class PriceTable:
    as_of: str  # the bundled table's date
    models: dict[str, Price]  # lower-case names
    local: frozenset[str]  # lower-case names the user marks local


def override_path() -> Path:
    return Path(platformdirs.user_config_dir("localobs")) / "prices.json"


def _number(value: Any) -> float | None:
    """A finite, non-negative number, else None (telemetry is untrusted)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def reported_cost(attributes: dict[str, Any]) -> float | None:
    """The cost a span's attributes report (the first valid key of REPORTED_COST_KEYS): read at
    ingest into the `reported_cost_usd` column, where a coding agent's mapper puts its own."""
    for key in REPORTED_COST_KEYS:
        value = _number(attributes.get(key))
        if value is not None:
            return value
    return None


def _price(name: str, entry: Any, as_of: str) -> Price:
    """One model's entry; cache prices default to the input price (no discount known)."""
    if not isinstance(entry, dict):
        raise ValueError(f"model {name!r}: not an object")

    def get(key: str, default: float | None = None) -> float:
        value = _number(entry.get(key, default))
        if value is None:
            raise ValueError(f"model {name!r}: {key!r} is not a non-negative number")
        return value

    base = get("input")
    return Price(base, get("output"), get("cache_read", base), get("cache_write", base), as_of)


def _parse(data: Any, default_as_of: str) -> tuple[str, dict[str, Price], frozenset[str]]:
    """(as_of, models, local) of a price file; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    as_of = data.get("as_of", default_as_of)
    if not isinstance(as_of, str):
        raise ValueError('"as_of" is not a string')
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ValueError('"models" is not an object')
    prices = {name.lower(): _price(name, entry, as_of) for name, entry in models.items()}
    local = data.get("local", [])
    if not isinstance(local, list) or not all(isinstance(name, str) for name in local):
        raise ValueError('"local" is not a list of model names')
    return as_of, prices, frozenset(name.lower() for name in local)


@functools.cache
def price_table() -> PriceTable:
    """The bundled table with the user's override file applied; read once per process. A bad
    override file is reported in a warning and ignored: the bundled table stays in force."""
    bundled = resources.files("localobs.store").joinpath("prices.json").read_bytes()
    as_of, models, local = _parse(orjson.loads(bundled), "")
    path = override_path()
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return PriceTable(as_of, models, local)
    except OSError as error:
        log.warning("price override %s not read (%s); using the bundled prices", path, error)
        return PriceTable(as_of, models, local)
    try:
        _, user_models, user_local = _parse(orjson.loads(text), f"your {path.name}")
    except (orjson.JSONDecodeError, ValueError) as error:
        log.warning("price override %s ignored: %s; using the bundled prices", path, error)
        return PriceTable(as_of, models, local)
    return PriceTable(as_of, {**models, **user_models}, local | user_local)


def find_price(model: str | None, table: PriceTable) -> Price | None:
    """The model's price: its exact name (case-insensitive, any `vendor/` prefix dropped), else
    that name without a date or `-latest` suffix. Never a fuzzier match: unknown stays unknown."""
    if not model:
        return None
    name = model.lower().rsplit("/", 1)[-1]
    price = table.models.get(name)
    if price is None:
        price = table.models.get(_SUFFIXES.sub("", name))
    return price


def is_local(provider: str | None, model: str | None, table: PriceTable) -> bool:
    """Runs on the user's machine: a local server's provider name, a GGUF file, a model the user
    lists as local, or the bundled demo model."""
    if provider is not None and provider.lower() in LOCAL_PROVIDERS:
        return True
    if not model:
        return False
    name = model.lower()
    return (
        name.endswith(".gguf")
        or name in table.local
        or name.rsplit("/", 1)[-1].startswith(_LOCAL_MODEL_PREFIXES)
    )


def cache_counted_apart(
    provider: str | None, derived: bool, input_tokens: int | None, read: int, write: int
) -> bool:
    """Whether a call's cache reads and writes come on top of its input tokens, not inside them.

    The GenAI conventions count them inside (`gen_ai.usage.input_tokens` includes cached tokens),
    and so do OpenAI's, Gemini's and Codex's own reports. Anthropic's API reports them apart
    (`input_tokens` is only the uncached part), and a call built from a client's own usage
    report (Claude Code's `api_request` event) keeps that: apart. Whatever the source, cache
    counts larger than the input count cannot be a part of it: apart."""
    if derived and provider is not None and provider.lower() in _CACHE_APART_PROVIDERS:
        return True
    return read + write > (input_tokens or 0)


def cost_parts(
    provider: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    extras: CostExtras = NO_EXTRAS,
) -> CostParts:
    """What a price table prices of a call (or the cost it reported, which wins)."""
    if extras.reported is not None:
        return CostParts(extras.reported, 0, 0, 0, 0, False)
    read, write = extras.cache_read or 0, extras.cache_write or 0
    fresh = input_tokens or 0
    if not cache_counted_apart(provider, extras.derived, input_tokens, read, write):
        fresh -= read + write
    has_tokens = input_tokens is not None or output_tokens is not None
    return CostParts(None, fresh, output_tokens or 0, read, write, has_tokens)


def parts_cost(
    provider: str | None, model: str | None, parts: CostParts, table: PriceTable | None = None
) -> Cost:
    """The cost of a call's (or a sum of calls') parts: reported, local, priced or unknown."""
    if parts.reported is not None:
        return Cost(parts.reported, REPORTED)
    table = table or price_table()
    if is_local(provider, model, table):
        return Cost(0.0, LOCAL)
    price = find_price(model, table)
    if price is None or not parts.has_tokens:
        return UNKNOWN
    usd = (
        parts.fresh_input * price.input
        + parts.output * price.output
        + parts.cache_read * price.cache_read
        + parts.cache_write * price.cache_write
    ) / 1e6
    return Cost(usd, PRICE_TABLE)


def call_cost(
    provider: str | None,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read: int | None = None,
    cache_write: int | None = None,
    reported: float | None = None,
    table: PriceTable | None = None,
    derived: bool = False,
) -> Cost:
    """A call's cost in USD and where it came from (cache tokens: see cache_counted_apart)."""
    extras = CostExtras(reported, cache_read, cache_write, derived)
    return parts_cost(
        provider, model, cost_parts(provider, input_tokens, output_tokens, extras), table
    )


def _tokens(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _attribute_extras(values: Any) -> CostExtras:
    if not isinstance(values, list) or len(values) != len(_EXTRA_KEYS):
        return NO_EXTRAS
    reported = values[: len(REPORTED_COST_KEYS)]
    reads = values[len(REPORTED_COST_KEYS) : len(REPORTED_COST_KEYS) + len(_CACHE_READ_KEYS)]
    writes = values[len(REPORTED_COST_KEYS) + len(_CACHE_READ_KEYS) :]

    def first(items: list[Any], convert: Any) -> Any:
        return next((v for v in map(convert, items) if v is not None), None)

    return CostExtras(first(reported, _number), first(reads, _tokens), first(writes, _tokens))


def column_extras(
    reported: Any, cache_read: Any, cache_write: Any, derived_from: Any
) -> CostExtras:
    """CostExtras of the values COST_COLUMNS_SQL reads (bad values ignored: untrusted)."""
    return CostExtras(
        _number(reported), _tokens(cache_read), _tokens(cache_write), derived_from is not None
    )


def cost_extras(text: str | None) -> CostExtras:
    """The reported cost, cache token counts and origin from COST_EXTRAS_SQL's value: each
    column, else the first attribute present of its kind."""
    if not text:
        return NO_EXTRAS
    try:
        values = orjson.loads(text)
    except orjson.JSONDecodeError:
        return NO_EXTRAS
    if not isinstance(values, list) or len(values) != 5:
        return NO_EXTRAS
    columns = column_extras(*values[:4])
    fallback = _attribute_extras(values[4])
    return CostExtras(
        fallback.reported if columns.reported is None else columns.reported,
        fallback.cache_read if columns.cache_read is None else columns.cache_read,
        fallback.cache_write if columns.cache_write is None else columns.cache_write,
        columns.derived,
    )


@functools.lru_cache(maxsize=4096)
def row_cost(
    provider: str | None,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    extras_text: str | None,
) -> Cost:
    """call_cost of a row read with COST_EXTRAS_SQL. Remembered: the lists price thousands of
    calls a read, mostly with the same few models and counts (the price table is read once per
    process, so a remembered cost never goes stale)."""
    parts = cost_parts(provider, input_tokens, output_tokens, cost_extras(extras_text))
    return parts_cost(provider, model, parts)


class CostSum(NamedTuple):
    """Costs of several calls: the sum of the known ones, and how many were unknown."""

    usd: float | None  # None when no call's cost is known; 0 for no calls
    unpriced: int


def sum_costs(costs: list[Cost]) -> CostSum:
    known = [cost.usd for cost in costs if cost.usd is not None]
    return sum_known(known, len(costs) - len(known))


def sum_known(known: list[float], unpriced: int) -> CostSum:
    """The known costs summed in their order (None when none is known but some call had no
    price), and the count of calls without one."""
    return CostSum(None if known == [] and unpriced else sum(known), unpriced)


def usd_text(usd: float | None) -> str:
    """`$0.00045`, `$0.0125`, `$0.25`, `$1,234.50` (three significant digits below a dollar, at
    least cents); `$0`; `—` when unknown (never a guess)."""
    if usd is None:
        return "—"
    if usd == 0:
        return "$0"
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd < 0.000001:
        return "<$0.000001"
    digits = 2 - math.floor(math.log10(usd))
    text = f"{usd:.{digits}f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def usd_delta_text(usd: float | None) -> str:
    """`+$0.0012`, `-$0.30`; '' when unknown."""
    if usd is None:
        return ""
    return ("+" if usd >= 0 else "-") + usd_text(abs(usd))


def cost_text(usd: float | None, source: str | None, model: str | None) -> str:
    """A call's cost with where it came from (or why it is unknown), as the call detail shows it."""
    price = find_price(model, price_table())
    if usd is None:
        return "— (no token counts reported)" if price else "— (no price known for this model)"
    if source == LOCAL:
        return "$0 (local model)"
    if source == REPORTED:
        return f"{usd_text(usd)} (reported by the client)"
    as_of = price.as_of if price is not None else price_table().as_of
    return f"{usd_text(usd)} (price table, as of {as_of})"


def partial_usd_text(usd: float | None, unpriced: int) -> str:
    """A sum of known costs in a cell: `≥$0.41` when some calls had no price (the whole is
    at least that), `—` when none had one."""
    if usd is None:
        return "—"
    return f"≥{usd_text(usd)}" if unpriced else usd_text(usd)


def total_cost_text(usd: float | None, unpriced: int, calls: int) -> str:
    """`$0.41`, `$0.41, 3 of 120 calls unpriced`, or `—, 120 of 120 calls unpriced`."""
    text = usd_text(usd)
    return f"{text}, {unpriced} of {calls} calls unpriced" if unpriced else text
