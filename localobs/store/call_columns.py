"""SQL expressions of a model call's derived values, shared so every query computes them alike."""

DURATION_MS_SQL = "(end_time_unix_nano - start_time_unix_nano) / 1e6"
# Output tokens per second, as the llm_calls view defines it: over (duration - TTFT), decode speed
# when a TTFT was measured, else over the whole duration (end-to-end; see call_speed.py).
TOKENS_PER_S_SQL = f"""CASE
        WHEN output_tokens > 0 AND {DURATION_MS_SQL} - coalesce(ttft_ms, 0) > 0
        THEN output_tokens * 1000.0 / ({DURATION_MS_SQL} - coalesce(ttft_ms, 0))
    END"""
IS_ERROR_SQL = "(coalesce(status_code, 0) = 2 OR error_type IS NOT NULL)"
MODEL_SQL = "coalesce(response_model, request_model)"
