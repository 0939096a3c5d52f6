"""The live header of the calls screen: where to send data, totals, and the per-model split."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from localobs.store.coding_agents import CodingAgentTotals, summary_text
from localobs.store.cost import total_cost_text, usd_text
from localobs.store.stats import ModelStats, Totals
from localobs.store.token_estimate import estimated_calls_text
from localobs.tui import format as fmt

_MAX_MODELS = 3


def _model_line(stats: ModelStats) -> Content:
    return Content.assemble(
        fmt.shown(stats.model, "$text-accent", width=24),
        f"  {stats.calls} calls",
        (f" {stats.errors} err" if stats.errors else "", "$text-error"),
        f"  tok {fmt.tokens_in_out(stats.input_tokens, stats.output_tokens)}",
        fmt.cached(stats.cache_read_tokens, stats.cache_write_tokens),
        _estimates(stats),
        f" p50 {fmt.duration(stats.duration_p50_ms)}",
        f" {fmt.rate(stats.tokens_per_s_p50)} tok/s",
        f"  {usd_text(stats.cost_usd)}",
    )


def _estimates(stats: ModelStats | Totals) -> str:
    """Estimated counts beside the reported ones, never added to them (token_estimate.py)."""
    if not stats.estimated_calls:
        return ""
    estimates = fmt.tokens_in_out(
        None, None, stats.input_tokens_estimate or None, stats.output_tokens_estimate or None
    )
    return f" +{estimates} est. ({estimated_calls_text(stats.estimated_calls, stats.calls)})"


def totals_content(
    totals: Totals | None, window_label: str, coding_agents: tuple[CodingAgentTotals, ...] = ()
) -> Content:
    if totals is None:
        return Content.from_markup("[$foreground-muted]loading totals…[/]")
    errors_style = "$text-error b" if totals.errors else ""
    lines = [
        Content.assemble(
            (f"{window_label}: ", "$foreground-muted"),
            (f"{totals.calls} calls", "b"),
            (f" {totals.errors} err", errors_style),
            f"  tok {fmt.tokens_in_out(totals.input_tokens, totals.output_tokens)}",
            fmt.cached(totals.cache_read_tokens, totals.cache_write_tokens),
            _estimates(totals),
            f"  p50 {fmt.duration(totals.duration_p50_ms)}",
            f" p95 {fmt.duration(totals.duration_p95_ms)}",
            f"  ttft {fmt.duration(totals.ttft_p50_ms)}",
            f"  {fmt.rate(totals.tokens_per_s_p50)} tok/s",
            f"  cost {total_cost_text(totals.cost_usd, totals.unpriced_calls, totals.calls)}",
        )
    ]
    models = sorted(totals.per_model, key=lambda m: m.calls, reverse=True)
    lines.extend(_model_line(stats) for stats in models[:_MAX_MODELS])
    if len(models) > _MAX_MODELS:
        lines.append(
            Content.styled(f"+{len(models) - _MAX_MODELS} more models (c)", "$foreground-muted")
        )
    # Coding agents' own metrics: a line each, beside (never added to) the calls' figures.
    lines.extend(Content(summary_text(agent)) for agent in coding_agents)
    return Content("\n").join(lines)


class TotalsBar(Static):
    """Totals over a recent window; refreshed at most about once a second under load."""

    _shown: tuple[Totals | None, str, tuple[CodingAgentTotals, ...]] | None = None

    def show(
        self,
        totals: Totals | None,
        window_label: str,
        coding_agents: tuple[CodingAgentTotals, ...] = (),
    ) -> None:
        """Redraw only when the figures changed (every second or so under load)."""
        if (totals, window_label, coding_agents) != self._shown:
            self._shown = (totals, window_label, coding_agents)
            self.update(totals_content(totals, window_label, coding_agents))
