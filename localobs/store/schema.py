"""The SQLite schema and its versioned migrations.

The schema is documented for users in docs/schema.md; keep both in step. A database is recognised as
ours by `PRAGMA application_id`, so a foreign SQLite file is refused instead of being altered.
"""

from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x4C4F4253  # "LOBS"

# Columns of the hot tables, in the order the receiver builds row tuples. The writer inserts rows
# with executemany and no per-value work, so these tuples are the contract between both sides.
SPAN_COLUMNS: tuple[str, ...] = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "flags",
    "name",
    "kind",
    "service_name",
    "scope_name",
    "resource_id",
    "scope_id",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "links",
    "dropped_attributes_count",
    "dropped_events_count",
    "dropped_links_count",
    # GenAI record (NULL for spans that are no model call); see the llm_calls view.
    "span_role",
    "operation",
    "provider",
    "request_model",
    "response_model",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "temperature",
    "top_p",
    "max_tokens",
    "finish_reasons",
    "error_type",
    "input_messages",
    "output_messages",
    "system_instructions",
    "dialect",
    # Agent record (migration 7): the agent, tool, workflow and conversation a GenAI span names.
    "agent_name",
    "agent_id",
    "tool_name",
    "tool_call_id",
    "tool_arguments",
    "tool_result",
    "tool_decision",
    "workflow_name",
    "conversation_id",
    # Call details (migration 10): where the TTFT came from, cache and reasoning usage, a cost the
    # client reported itself, the signal a call was derived from (NULL: a span as sent), and token
    # counts estimated from the stored text where nobody reported usage.
    "ttft_source",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "reasoning_level",
    "reported_cost_usd",
    "derived_from",
    "input_tokens_estimate",
    "output_tokens_estimate",
    "token_estimate_method",
)

LOG_COLUMNS: tuple[str, ...] = (
    "time_unix_nano",
    "observed_time_unix_nano",
    "severity_number",
    "severity_text",
    "body",
    "event_name",
    "trace_id",
    "span_id",
    "flags",
    "attributes",
    "dropped_attributes_count",
    "service_name",
    "resource_id",
    "scope_id",
)

METRIC_POINT_COLUMNS: tuple[str, ...] = (
    "name",
    "description",
    "unit",
    "type",
    "service_name",
    "resource_id",
    "scope_id",
    "start_time_unix_nano",
    "time_unix_nano",
    "attributes",
    "value",
    "count",
    "sum",
    "min",
    "max",
    "bucket_counts",
    "explicit_bounds",
    "exponential",
    "quantiles",
    "aggregation_temporality",
    "is_monotonic",
    "flags",
    "exemplars",
    "metadata",
)

RESOURCE_COLUMNS: tuple[str, ...] = (
    "resource_id",
    "service_name",
    "attributes",
    "dropped_attributes_count",
    "schema_url",
)
SCOPE_COLUMNS: tuple[str, ...] = (
    "scope_id",
    "name",
    "version",
    "attributes",
    "dropped_attributes_count",
    "schema_url",
)


# The first schema, as the first release created it. Frozen: every migration is literal SQL and
# never changes once released (a new column is a new migration at the end of MIGRATIONS), so a
# database created by any release upgrades the same way. tests/test_schema.py checks that the
# column lists above name exactly the columns the migrations create.
# `metric_points.value`, `sum`, `min` and `max` carry no declared type: SQLite then keeps an int64
# as INTEGER and a double as REAL exactly as sent (OTLP's as_int/as_double stays lossless).
_MIGRATION_1 = """
CREATE TABLE resources (
    resource_id INTEGER PRIMARY KEY,
    service_name TEXT,
    attributes TEXT,
    dropped_attributes_count INTEGER,
    schema_url TEXT
);
CREATE TABLE scopes (
    scope_id INTEGER PRIMARY KEY,
    name TEXT,
    version TEXT,
    attributes TEXT,
    dropped_attributes_count INTEGER,
    schema_url TEXT
);
CREATE TABLE spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    trace_state TEXT,
    flags INTEGER,
    name TEXT NOT NULL,
    kind INTEGER,
    service_name TEXT,
    scope_name TEXT,
    resource_id INTEGER,
    scope_id INTEGER,
    start_time_unix_nano INTEGER NOT NULL,
    end_time_unix_nano INTEGER NOT NULL,
    status_code INTEGER,
    status_message TEXT,
    attributes TEXT,
    events TEXT,
    links TEXT,
    dropped_attributes_count INTEGER,
    dropped_events_count INTEGER,
    dropped_links_count INTEGER,
    span_role TEXT,
    operation TEXT,
    provider TEXT,
    request_model TEXT,
    response_model TEXT,
    ttft_ms REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    temperature REAL,
    top_p REAL,
    max_tokens INTEGER,
    finish_reasons TEXT,
    error_type TEXT,
    input_messages TEXT,
    output_messages TEXT,
    system_instructions TEXT,
    dialect TEXT
);
CREATE UNIQUE INDEX spans_by_id ON spans (trace_id, span_id);
CREATE INDEX llm_calls_by_start ON spans (start_time_unix_nano) WHERE operation IS NOT NULL;
CREATE TABLE logs (
    time_unix_nano INTEGER,
    observed_time_unix_nano INTEGER,
    severity_number INTEGER,
    severity_text TEXT,
    body TEXT,
    event_name TEXT,
    trace_id TEXT,
    span_id TEXT,
    flags INTEGER,
    attributes TEXT,
    dropped_attributes_count INTEGER,
    service_name TEXT,
    resource_id INTEGER,
    scope_id INTEGER
);
CREATE TABLE metric_points (
    name TEXT NOT NULL,
    description TEXT,
    unit TEXT,
    type TEXT NOT NULL,
    service_name TEXT,
    resource_id INTEGER,
    scope_id INTEGER,
    start_time_unix_nano INTEGER,
    time_unix_nano INTEGER,
    attributes TEXT,
    value,
    count INTEGER,
    sum,
    min,
    max,
    bucket_counts TEXT,
    explicit_bounds TEXT,
    exponential TEXT,
    quantiles TEXT,
    aggregation_temporality INTEGER,
    is_monotonic INTEGER,
    flags INTEGER,
    exemplars TEXT,
    metadata TEXT
);
CREATE INDEX metric_points_by_name ON metric_points (name, time_unix_nano);
-- One row per accepted request body: a retried export of the same body stores nothing twice.
CREATE TABLE ingest_batches (
    digest TEXT PRIMARY KEY,
    signal TEXT NOT NULL,
    received_unix_nano INTEGER NOT NULL,
    items INTEGER NOT NULL
) WITHOUT ROWID;
-- Model calls are span rows with GenAI columns set: one insert per span keeps ingest fast.
CREATE VIEW llm_calls AS
SELECT
    rowid AS call_id,
    trace_id,
    span_id,
    service_name,
    operation,
    provider,
    request_model,
    response_model,
    start_time_unix_nano,
    (end_time_unix_nano - start_time_unix_nano) / 1e6 AS duration_ms,
    ttft_ms,
    CASE
        WHEN output_tokens > 0
             AND (end_time_unix_nano - start_time_unix_nano) / 1e6 - coalesce(ttft_ms, 0) > 0
        THEN output_tokens * 1000.0
             / ((end_time_unix_nano - start_time_unix_nano) / 1e6 - coalesce(ttft_ms, 0))
    END AS output_tokens_per_s,
    input_tokens,
    output_tokens,
    temperature,
    top_p,
    max_tokens,
    finish_reasons,
    error_type,
    status_code,
    input_messages,
    output_messages,
    system_instructions,
    dialect
FROM spans
WHERE operation IS NOT NULL;
"""

# Forwarding: request bodies waiting for delivery upstream, written by the writer in the same
# transaction as the batch's rows (see store/outbox.py). AUTOINCREMENT: ids are never reused, so a
# per-upstream cursor (`delivered_id`) stays meaningful after the outbox was emptied.
_MIGRATION_2_OUTBOX = """
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    signal TEXT NOT NULL,
    items INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE forward_upstreams (
    upstream TEXT PRIMARY KEY,
    active INTEGER NOT NULL,
    delivered_id INTEGER NOT NULL,
    delivered_batches INTEGER NOT NULL DEFAULT 0,
    delivered_items INTEGER NOT NULL DEFAULT 0,
    dropped_batches INTEGER NOT NULL DEFAULT 0,
    dropped_items INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_unix_nano INTEGER,
    last_delivery_unix_nano INTEGER
);
"""

# GenAI log events (see receiver/genai/log_events.py) waiting for their span's row, or merged into
# it and deleted in the same transaction as the batch that completed the pair (store/genai_join.py).
# rowid order is arrival order, which orders per-message events.
_MIGRATION_3_GENAI_PENDING = """
CREATE TABLE genai_pending (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    patch TEXT NOT NULL
);
CREATE INDEX genai_pending_by_span ON genai_pending (trace_id, span_id);
"""

# The query layer (see store/rollups.py and docs/schema.md): a covering index for listing and
# filtering model calls (it replaces llm_calls_by_start), and what the writer derives from span
# rows while idle: per-minute/per-hour rollups and a contentless full-text index of the messages.
_MIGRATION_4_QUERY_LAYER = """
DROP INDEX llm_calls_by_start;
CREATE INDEX llm_calls_list ON spans (
    start_time_unix_nano, end_time_unix_nano, service_name, request_model, response_model,
    operation, status_code, error_type, ttft_ms, input_tokens, output_tokens
) WHERE operation IS NOT NULL;
CREATE INDEX metric_points_delta ON metric_points (
    name, aggregation_temporality, attributes, explicit_bounds, time_unix_nano, bucket_counts,
    min, max
) WHERE aggregation_temporality = 1;
CREATE INDEX metric_points_cumulative ON metric_points (
    name, aggregation_temporality, resource_id, attributes, start_time_unix_nano, time_unix_nano
) WHERE aggregation_temporality = 2;
CREATE TABLE derived_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE span_rollup (
    grain_s INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    total_ms REAL NOT NULL,
    self_ms REAL NOT NULL,
    duration_buckets TEXT NOT NULL,
    PRIMARY KEY (grain_s, slot, name)
) WITHOUT ROWID;
CREATE TABLE call_rollup (
    grain_s INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    request_model TEXT NOT NULL,
    response_model TEXT NOT NULL,
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    is_error INTEGER NOT NULL,
    count INTEGER NOT NULL,
    usage_calls INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    duration_buckets TEXT NOT NULL,
    ttft_buckets TEXT NOT NULL,
    tokens_per_s_buckets TEXT NOT NULL,
    PRIMARY KEY (grain_s, slot, request_model, response_model, service, operation, is_error)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE llm_call_text USING fts5(
    text, content='', columnsize=0, detail=none, tokenize='unicode61 remove_diacritics 2'
);
"""

# The outbox refers to the rows a batch inserted instead of holding a copy of its body: writing
# each body again cost the writer 13-22 % of its throughput (measured), while the rows already
# hold everything needed to rebuild the request losslessly. A batch's rows are contiguous in rowid
# order (one writer inserts them in one statement). Dropping the table resets AUTOINCREMENT, so
# the cursors restart too.
_MIGRATION_5_OUTBOX_BY_REFERENCE = """
DROP TABLE outbox;
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    signal TEXT NOT NULL,
    first_rowid INTEGER NOT NULL,
    last_rowid INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
UPDATE forward_upstreams SET delivered_id = 0;
"""

# What redaction at ingest did (localobs/receiver/redact.py), kept with the data it describes:
# credentials replaced per kind, and per signal the batches stored with it off (--no-redact), so
# `info` and exports can say whether stored content may still hold credentials.
_MIGRATION_6_REDACTIONS = """
CREATE TABLE redactions (
    kind TEXT PRIMARY KEY,
    count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE unredacted_batches (
    signal TEXT PRIMARY KEY,
    batches INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Agents, tools and conversations (see store/agents.py and store/conversations.py): what each
# GenAI span says about its agent run, tool execution, workflow step and conversation, filled at
# ingest by receiver/genai/agents.py. Partial indexes keep both lists fast on a large database:
# only agent-run spans and spans with a conversation id are in them.
_MIGRATION_7_AGENTS = """
ALTER TABLE spans ADD COLUMN agent_name TEXT;
ALTER TABLE spans ADD COLUMN agent_id TEXT;
ALTER TABLE spans ADD COLUMN tool_name TEXT;
ALTER TABLE spans ADD COLUMN tool_call_id TEXT;
ALTER TABLE spans ADD COLUMN tool_arguments TEXT;
ALTER TABLE spans ADD COLUMN tool_result TEXT;
ALTER TABLE spans ADD COLUMN tool_decision TEXT;
ALTER TABLE spans ADD COLUMN workflow_name TEXT;
ALTER TABLE spans ADD COLUMN conversation_id TEXT;
CREATE INDEX agent_runs_by_start ON spans (start_time_unix_nano) WHERE span_role = 'agent';
CREATE INDEX agent_runs_by_id ON spans (span_id) WHERE span_role = 'agent';
CREATE INDEX conversation_spans ON spans (conversation_id, start_time_unix_nano)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX conversations_by_start ON spans (start_time_unix_nano, conversation_id)
    WHERE conversation_id IS NOT NULL;
"""

# Retention (see store/retention.py): traces a user keeps; the writer's policy and counters (the
# caps `localobs up` runs with, how much was pruned, whether pruning is under way); and when each
# batch's rows arrived (the last rowid it inserted, by arrival time), which dates every row
# without a column per row: rowids grow in arrival order. Rows stored before get the arrival of
# the last batch before the upgrade (no younger than they are).
_MIGRATION_8_RETENTION = """
ALTER TABLE ingest_batches ADD COLUMN last_rowid INTEGER;
CREATE INDEX ingest_batches_by_arrival ON ingest_batches (signal, received_unix_nano);
UPDATE ingest_batches SET last_rowid = CASE signal
    WHEN 'traces' THEN (SELECT max(rowid) FROM spans)
    WHEN 'logs' THEN (SELECT max(rowid) FROM logs)
    ELSE (SELECT max(rowid) FROM metric_points)
END
WHERE received_unix_nano = (
    SELECT max(received_unix_nano) FROM ingest_batches AS latest
    WHERE latest.signal = ingest_batches.signal
);
CREATE TABLE kept_traces (
    trace_id TEXT PRIMARY KEY,
    kept_unix_nano INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE retention_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Message content stored once (see store/contents.py): each distinct message of the three message
# columns is a `contents` row; new span rows hold a BLOB of references instead of the text. The
# llm_calls view gives the text back, so plain sqlite3 reads every message as before.
_MIGRATION_9_CONTENTS = """
CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    refs INTEGER NOT NULL,
    text TEXT NOT NULL
);
DROP VIEW llm_calls;
CREATE VIEW llm_calls AS
SELECT
    rowid AS call_id,
    trace_id,
    span_id,
    service_name,
    operation,
    provider,
    request_model,
    response_model,
    start_time_unix_nano,
    (end_time_unix_nano - start_time_unix_nano) / 1e6 AS duration_ms,
    ttft_ms,
    CASE
        WHEN output_tokens > 0
             AND (end_time_unix_nano - start_time_unix_nano) / 1e6 - coalesce(ttft_ms, 0) > 0
        THEN output_tokens * 1000.0
             / ((end_time_unix_nano - start_time_unix_nano) / 1e6 - coalesce(ttft_ms, 0))
    END AS output_tokens_per_s,
    input_tokens,
    output_tokens,
    temperature,
    top_p,
    max_tokens,
    finish_reasons,
    error_type,
    status_code,
    CASE WHEN typeof(input_messages) != 'blob' THEN input_messages
        WHEN json_type(CAST(input_messages AS TEXT)) = 'integer'
        THEN (SELECT text FROM contents
            WHERE id = CAST(CAST(input_messages AS TEXT) AS INTEGER))
        ELSE (SELECT
            '[' || group_concat(part, json_extract(CAST(input_messages AS TEXT), '$[0]'))
            || ']'
            FROM (SELECT c.text AS part FROM json_each(CAST(input_messages AS TEXT)) AS j
                JOIN contents AS c ON c.id = j.value WHERE j.key > 0 ORDER BY j.key))
    END AS input_messages,
    CASE WHEN typeof(output_messages) != 'blob' THEN output_messages
        WHEN json_type(CAST(output_messages AS TEXT)) = 'integer'
        THEN (SELECT text FROM contents
            WHERE id = CAST(CAST(output_messages AS TEXT) AS INTEGER))
        ELSE (SELECT
            '[' || group_concat(part, json_extract(CAST(output_messages AS TEXT), '$[0]'))
            || ']'
            FROM (SELECT c.text AS part FROM json_each(CAST(output_messages AS TEXT)) AS j
                JOIN contents AS c ON c.id = j.value WHERE j.key > 0 ORDER BY j.key))
    END AS output_messages,
    CASE WHEN typeof(system_instructions) != 'blob' THEN system_instructions
        WHEN json_type(CAST(system_instructions AS TEXT)) = 'integer'
        THEN (SELECT text FROM contents
            WHERE id = CAST(CAST(system_instructions AS TEXT) AS INTEGER))
        ELSE (SELECT
            '[' || group_concat(part, json_extract(CAST(system_instructions AS TEXT), '$[0]'))
            || ']'
            FROM (SELECT c.text AS part FROM json_each(CAST(system_instructions AS TEXT)) AS j
                JOIN contents AS c ON c.id = j.value WHERE j.key > 0 ORDER BY j.key))
    END AS system_instructions,
    dialect
FROM spans
WHERE operation IS NOT NULL;
"""

# Call details (see receiver/genai/details.py): the source of each TTFT, cache and reasoning
# usage, the reasoning level asked for, the cost a client reported itself, token estimates for
# calls whose usage nobody reported (never written over a reported count), and `derived_from`
# for calls built from another signal (a coding agent's log events), which exports leave out:
# they were never sent as spans.
_MIGRATION_10_CALL_DETAILS = """
ALTER TABLE spans ADD COLUMN ttft_source TEXT;
ALTER TABLE spans ADD COLUMN cache_read_tokens INTEGER;
ALTER TABLE spans ADD COLUMN cache_write_tokens INTEGER;
ALTER TABLE spans ADD COLUMN reasoning_tokens INTEGER;
ALTER TABLE spans ADD COLUMN reasoning_level TEXT;
ALTER TABLE spans ADD COLUMN reported_cost_usd REAL;
ALTER TABLE spans ADD COLUMN derived_from TEXT;
ALTER TABLE spans ADD COLUMN input_tokens_estimate INTEGER;
ALTER TABLE spans ADD COLUMN output_tokens_estimate INTEGER;
ALTER TABLE spans ADD COLUMN token_estimate_method TEXT;
DROP VIEW llm_calls;
CREATE VIEW llm_calls AS
SELECT
    rowid AS call_id,
    trace_id,
    span_id,
    service_name,
    operation,
    provider,
    request_model,
    response_model,
    start_time_unix_nano,
    (end_time_unix_nano - start_time_unix_nano) / 1e6 AS duration_ms,
    ttft_ms,
    CASE
        WHEN output_tokens > 0
             AND (end_time_unix_nano - start_time_unix_nano) / 1e6 - coalesce(ttft_ms, 0) > 0
        THEN output_tokens * 1000.0
             / ((end_time_unix_nano - start_time_unix_nano) / 1e6 - coalesce(ttft_ms, 0))
    END AS output_tokens_per_s,
    input_tokens,
    output_tokens,
    temperature,
    top_p,
    max_tokens,
    finish_reasons,
    error_type,
    status_code,
    CASE WHEN typeof(input_messages) != 'blob' THEN input_messages
        WHEN json_type(CAST(input_messages AS TEXT)) = 'integer'
        THEN (SELECT text FROM contents
            WHERE id = CAST(CAST(input_messages AS TEXT) AS INTEGER))
        ELSE (SELECT
            '[' || group_concat(part, json_extract(CAST(input_messages AS TEXT), '$[0]'))
            || ']'
            FROM (SELECT c.text AS part FROM json_each(CAST(input_messages AS TEXT)) AS j
                JOIN contents AS c ON c.id = j.value WHERE j.key > 0 ORDER BY j.key))
    END AS input_messages,
    CASE WHEN typeof(output_messages) != 'blob' THEN output_messages
        WHEN json_type(CAST(output_messages AS TEXT)) = 'integer'
        THEN (SELECT text FROM contents
            WHERE id = CAST(CAST(output_messages AS TEXT) AS INTEGER))
        ELSE (SELECT
            '[' || group_concat(part, json_extract(CAST(output_messages AS TEXT), '$[0]'))
            || ']'
            FROM (SELECT c.text AS part FROM json_each(CAST(output_messages AS TEXT)) AS j
                JOIN contents AS c ON c.id = j.value WHERE j.key > 0 ORDER BY j.key))
    END AS output_messages,
    CASE WHEN typeof(system_instructions) != 'blob' THEN system_instructions
        WHEN json_type(CAST(system_instructions AS TEXT)) = 'integer'
        THEN (SELECT text FROM contents
            WHERE id = CAST(CAST(system_instructions AS TEXT) AS INTEGER))
        ELSE (SELECT
            '[' || group_concat(part, json_extract(CAST(system_instructions AS TEXT), '$[0]'))
            || ']'
            FROM (SELECT c.text AS part FROM json_each(CAST(system_instructions AS TEXT)) AS j
                JOIN contents AS c ON c.id = j.value WHERE j.key > 0 ORDER BY j.key))
    END AS system_instructions,
    dialect,
    ttft_source,
    cache_read_tokens,
    cache_write_tokens,
    reasoning_tokens,
    reasoning_level,
    reported_cost_usd,
    input_tokens_estimate,
    output_tokens_estimate,
    token_estimate_method,
    derived_from
FROM spans
WHERE operation IS NOT NULL;
"""

# The newer GenAI shapes. Calls stored before their cache and reasoning usage was read get it from
# their attributes (the names receiver/genai/details.py reads), and their TTFT its source (before,
# only the `gen_ai.response.time_to_first_chunk` attribute and first-chunk events were read); then
# lookups that stay cheap while these are rare: the cache token sums of the totals read only calls
# that report a cache, and a call's evaluation results (`gen_ai.evaluation.result` log events) are
# found by the span they evaluate, or by its `gen_ai.response.id` when they name no span.
_MIGRATION_11_CACHE_AND_EVALUATIONS = """
UPDATE spans SET
    cache_read_tokens = (SELECT value FROM json_each(json_array(
        json_extract(attributes, '$."gen_ai.usage.cache_read.input_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.cache_read_input_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.cached_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.details.cache_read_tokens"'),
        json_extract(attributes, '$."llm.token_count.prompt_details.cache_read"')
    )) WHERE type = 'integer' AND value >= 0 ORDER BY key LIMIT 1),
    cache_write_tokens = (SELECT value FROM json_each(json_array(
        json_extract(attributes, '$."gen_ai.usage.cache_creation.input_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.cache_write.input_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.cache_creation_input_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.details.cache_write_tokens"'),
        json_extract(attributes, '$."llm.token_count.prompt_details.cache_write"')
    )) WHERE type = 'integer' AND value >= 0 ORDER BY key LIMIT 1),
    reasoning_tokens = (SELECT value FROM json_each(json_array(
        json_extract(attributes, '$."gen_ai.usage.reasoning.output_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.reasoning_tokens"'),
        json_extract(attributes, '$."gen_ai.usage.details.reasoning_tokens"'),
        json_extract(attributes, '$."llm.token_count.completion_details.reasoning"')
    )) WHERE type = 'integer' AND value >= 0 ORDER BY key LIMIT 1)
WHERE operation IS NOT NULL AND cache_read_tokens IS NULL AND cache_write_tokens IS NULL
    AND reasoning_tokens IS NULL AND json_valid(attributes)
    AND (instr(attributes, 'cache') OR instr(attributes, 'reasoning'));
UPDATE spans SET ttft_source = coalesce(
    CASE WHEN json_type(attributes, '$."gen_ai.response.time_to_first_chunk"')
        IN ('real', 'integer') THEN 'gen_ai.response.time_to_first_chunk' END,
    (SELECT 'event ' || json_extract(event.value, '$.name') FROM json_each(spans.events) AS event
        WHERE json_extract(event.value, '$.name') IN (
            'First Token Stream Event', 'gen_ai.content.completion.chunk',
            'llm.content.completion.chunk')
        ORDER BY event.key LIMIT 1)
)
WHERE operation IS NOT NULL AND ttft_ms IS NOT NULL AND ttft_source IS NULL
    AND json_valid(attributes) AND (events IS NULL OR json_valid(events));
CREATE INDEX llm_calls_cached ON spans (
    start_time_unix_nano, cache_read_tokens, cache_write_tokens
) WHERE operation IS NOT NULL AND (cache_read_tokens IS NOT NULL OR cache_write_tokens IS NOT NULL);
CREATE INDEX evaluation_events ON logs (trace_id, span_id)
WHERE event_name = 'gen_ai.evaluation.result';
CREATE INDEX evaluation_events_by_response ON logs (
    (CASE WHEN json_valid(attributes) THEN json_extract(attributes, '$."gen_ai.response.id"') END)
) WHERE event_name = 'gen_ai.evaluation.result';
"""

# What totals need of each call beyond its reported usage (see store/call_amounts.py): the calls
# whose token counts were estimated and the estimates used, and the parts of a call's cost (a cost
# the client reported itself, or the token counts a price table prices: input read from no cache,
# output, cache reads, cache writes). The list index covers those columns too, so exact totals
# still read no table rows. Everything folded so far is folded again (the writer does it in its
# idle time; readers use the raw rows meanwhile), so older calls get their estimates and cost
# parts too.
_MIGRATION_12_ESTIMATES_AND_COST_ROLLUPS = """
ALTER TABLE call_rollup ADD COLUMN estimated_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN input_tokens_estimate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN output_tokens_estimate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN reported_cost_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN reported_cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN priced_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN priced_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN priced_output_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_rollup ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
DELETE FROM call_rollup;
DELETE FROM span_rollup;
INSERT INTO llm_call_text (llm_call_text) VALUES ('delete-all');
DELETE FROM derived_state WHERE name = 'rollup_watermark';
DROP INDEX llm_calls_list;
CREATE INDEX llm_calls_list ON spans (
    start_time_unix_nano, end_time_unix_nano, service_name, request_model, response_model,
    operation, status_code, error_type, ttft_ms, input_tokens, output_tokens,
    input_tokens_estimate, output_tokens_estimate, provider, reported_cost_usd, cache_read_tokens,
    cache_write_tokens, derived_from
) WHERE operation IS NOT NULL;
"""

# The agents and conversations lists read summaries the writer keeps (store/summaries.py), not
# traces: a run's figures per top-level agent run, a conversation's per turn and per
# conversation, each summary the JSON of the query layer's own dataclass. `summary_dirty` names
# the traces whose summaries wait for the writer; the lists read those traces themselves
# meanwhile. Every trace that holds an agent span or a conversation id is named here, so the
# writer summarizes an existing file in its idle time.
_MIGRATION_13_SUMMARIES = """
CREATE TABLE run_summaries (
    run_key INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX run_summaries_by_start ON run_summaries (start_time_unix_nano);
CREATE INDEX run_summaries_by_trace ON run_summaries (trace_id);
CREATE TABLE conversation_turns (
    turn_key INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    facts TEXT NOT NULL
);
CREATE INDEX conversation_turns_by_conversation
    ON conversation_turns (conversation_id, start_time_unix_nano);
CREATE INDEX conversation_turns_by_trace ON conversation_turns (trace_id);
CREATE TABLE conversation_summaries (
    conversation_id TEXT PRIMARY KEY,
    last_active_unix_nano INTEGER NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX conversation_summaries_by_activity
    ON conversation_summaries (last_active_unix_nano, conversation_id);
CREATE TABLE summary_dirty (trace_id TEXT NOT NULL UNIQUE);
INSERT OR IGNORE INTO summary_dirty (trace_id)
SELECT trace_id FROM spans WHERE span_role = 'agent' OR conversation_id IS NOT NULL
ORDER BY start_time_unix_nano;
"""

MIGRATIONS: tuple[str, ...] = (
    _MIGRATION_1,
    _MIGRATION_2_OUTBOX,
    _MIGRATION_3_GENAI_PENDING,
    _MIGRATION_4_QUERY_LAYER,
    _MIGRATION_5_OUTBOX_BY_REFERENCE,
    _MIGRATION_6_REDACTIONS,
    _MIGRATION_7_AGENTS,
    _MIGRATION_8_RETENTION,
    _MIGRATION_9_CONTENTS,
    _MIGRATION_10_CALL_DETAILS,
    _MIGRATION_11_CACHE_AND_EVALUATIONS,
    _MIGRATION_12_ESTIMATES_AND_COST_ROLLUPS,
    _MIGRATION_13_SUMMARIES,
)
SCHEMA_VERSION = len(MIGRATIONS)


class NotALocalobsDatabase(Exception):
    """The file is an SQLite database, but not one localobs created."""


class DatabaseTooNew(Exception):
    """The file was written by a newer localobs whose schema this version cannot read."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; refuse files that are not ours. Returns the version."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    has_tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] > 0
    if app_id != APPLICATION_ID and (has_tables or version):
        raise NotALocalobsDatabase(
            "the file is an SQLite database that localobs did not create "
            "(application_id does not match); choose another path with --db"
        )
    if version > SCHEMA_VERSION:
        raise DatabaseTooNew(
            f"the database has schema version {version}; this localobs knows up to "
            f"{SCHEMA_VERSION}: upgrade localobs"
        )
    if not has_tables:
        # Before the first table: retention gives freed pages back with incremental vacuum.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    for number in range(version, SCHEMA_VERSION):
        conn.executescript(
            "BEGIN;"
            + MIGRATIONS[number]
            + f"PRAGMA application_id = {APPLICATION_ID};"
            + f"PRAGMA user_version = {number + 1};"
            + "COMMIT;"
        )
    if version < SCHEMA_VERSION and conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        # A file from before retention: rewritten once so freed pages can be given back.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
    return SCHEMA_VERSION
