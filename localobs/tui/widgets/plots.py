"""Distributions drawn with textual-plotext: one look at how spread out a set of values is.

Plots take the size of their widget, so they follow the terminal's width; the bin count follows
the width too, so that bars stay readable at 80 columns.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot


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
    plot: PlotextPlot, xs: Sequence[float], series: dict[str, Sequence[float]], title: str
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
