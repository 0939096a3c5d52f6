"""Rich styles for table cells, taken from the app's current theme so light and dark both read well.

Widgets styled through .tcss follow the theme by themselves; DataTable cells are Rich Text and
need concrete colours, which this derives from the theme's text-* variables.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from textual.app import App
from textual.color import Color


@dataclass(frozen=True)
class Palette:
    error: Style
    success: Style
    warning: Style
    accent: Style
    muted: Style

    @classmethod
    def of(cls, app: App[object]) -> Palette:
        variables = app.get_css_variables()
        background = Color.parse(variables["background"])

        def color(name: str) -> Style:
            return Style(color=(background + Color.parse(variables[name])).rich_color)

        return cls(
            error=color("text-error") + Style(bold=True),
            success=color("text-success"),
            warning=color("text-warning"),
            accent=color("text-accent"),
            muted=color("foreground-muted"),
        )
