"""Distributions drawn with textual-plotext: one look at how spread out a set of values is.

Plots take the size of their widget, so they follow the terminal's width; the bin count follows
the width too, so that bars stay readable at 80 columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual_plotext import PlotextPlot

from localobs.store.stats import LatencyHistogram
from localobs.tui import format as fmt

# Models drawn side by side in one histogram; more would make bars too thin at 80 columns.
MAX_MODELS = 3


def _bins(values: Sequence[float], width: int) -> int:
    distinct = len(set(values))
    return max(1, min(distinct, max(5, width // 4), 30))


def show_histogram(plot: PlotextPlot, values: Sequence[float], title: str, unit: str) -> None:
    """Redraw `plot` as a histogram of `values` (nothing measured: says so)."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    if values:
        plt.hist(list(values), bins=_bins(values, plot.size.width or 40))
        plt.xlabel(unit)
    else:
        plt.title(f"{title}: nothing measured yet")
    plot.refresh()


def show_series(
    plot: PlotextPlot, xs: Sequence[float], series: Mapping[str, Sequence[float]], title: str
) -> None:
    """Redraw `plot` as one line per named series over the same x values (minutes ago)."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    for label, ys in series.items():
        if xs and any(ys):
            plt.plot(list(xs), list(ys), label=label)
    plot.refresh()


def show_bars(
    plot: PlotextPlot, labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str
) -> None:
    """Redraw `plot` as bars per label, one colour per named series (e.g. per model)."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    if not labels or not series:
        plt.title(f"{title}: no calls in this window")
    elif len(series) == 1:
        plt.title(f"{title} · {next(iter(series))}")
        plt.bar(list(labels), list(next(iter(series.values()))))
    else:
        plt.title(title)
        # textual-plotext's stub names it `label`; plotext itself takes `labels`.
        plt.multiple_bar(  # type: ignore[call-arg]
            list(labels), [list(v) for v in series.values()], labels=list(series)
        )
    plot.refresh()


def latency_bars(
    histograms: Sequence[LatencyHistogram], measure: str
) -> tuple[list[str], dict[str, list[int]]]:
    """Labels (upper bounds, "≤ 64 ms") and counts per model, on bounds shared by all models."""
    shown = [h for h in histograms[:MAX_MODELS] if getattr(h, measure)]
    bounds = sorted({bound for h in shown for bound, _count in getattr(h, measure)})
    labels = [f"≤{fmt.duration(bound)}" for bound in bounds]
    series = {}
    for h in shown:
        counts = dict(getattr(h, measure))
        series[fmt.name(h.model, 24)] = [counts.get(bound, 0) for bound in bounds]
    return labels, series
