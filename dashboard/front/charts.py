"""Charts drawn on the server as SVG: geometry here, markup in templates/includes/chart.html.

No chart library and no script: the page's CSP allows neither inline script nor inline style, so
a chart is plain SVG elements whose look comes from classes in console.css. Each bar carries a
<title> (its exact value) for a tooltip and for screen readers.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 720
PLOT_LEFT = 48
PLOT_RIGHT = 8
PLOT_TOP = 10
AXIS_BOTTOM = 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    css: str = "bar"


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass
class Chart:
    """A vertical bar chart (bars per bucket), with an optional line for a limit."""

    width: int
    height: int
    plot_bottom: float
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    limit_y: float | None = None
    limit_text: str = ""
    label: str = ""

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def plot_left(self) -> int:
        return PLOT_LEFT

    @property
    def plot_right(self) -> int:
        return self.width - PLOT_RIGHT


def _nice_ceiling(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value`."""
    if value <= 0:
        return 1
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    buckets: Sequence[tuple[str, float]],
    *,
    label: str,
    value_text: Callable[[float], str],
    limit: float | None = None,
    limit_text: str = "",
    every_nth_label: int = 1,
    css: str = "bar",
    height: int = 200,
    counts: bool = False,
) -> Chart:
    """Bars for (bucket label, value) pairs, left to right; `limit` draws a dashed line at that value.

    `counts`: whole numbers, so the axis is marked at whole numbers only.
    """
    plot_bottom = height - AXIS_BOTTOM
    plot_height = plot_bottom - PLOT_TOP
    top = _nice_ceiling(max([v for _, v in buckets] + [limit or 0, 0]))
    chart = Chart(width=WIDTH, height=height, plot_bottom=plot_bottom, label=label)
    if not buckets:
        return chart
    slot = (WIDTH - PLOT_LEFT - PLOT_RIGHT) / len(buckets)
    gap = min(4.0, slot * 0.2)
    for index, (name, value) in enumerate(buckets):
        bar_height = plot_height * value / top
        x = PLOT_LEFT + index * slot + gap / 2
        chart.bars.append(
            Bar(
                x=round(x, 2),
                y=round(plot_bottom - bar_height, 2),
                width=round(slot - gap, 2),
                height=round(bar_height, 2),
                title=f"{name}: {value_text(value)}",
                css=css,
            )
        )
        if index % every_nth_label == 0:
            chart.x_ticks.append(Tick(round(x + (slot - gap) / 2, 2), name))
    halves = (0, 1) if counts and top % 2 else (0, 0.5, 1)
    for fraction in halves:
        chart.y_ticks.append(Tick(round(plot_bottom - plot_height * fraction, 2), value_text(top * fraction)))
    if limit is not None:
        chart.limit_y = round(plot_bottom - plot_height * limit / top, 2)
        chart.limit_text = limit_text
    return chart


@dataclass(frozen=True)
class Row:
    """One row of a horizontal bar list: a name, its bar's width (0-100 %) and its value."""

    name: str
    width: float
    value: str


def bar_rows(rows: Sequence[tuple[str, float]], value_text: Callable[[float], str]) -> list[Row]:
    top = max([v for _, v in rows] + [0]) or 1
    return [Row(name, round(100 * value / top, 2), value_text(value)) for name, value in rows]
