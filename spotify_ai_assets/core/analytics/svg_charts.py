"""Small SVG charts for the reports, drawn in plain Python: crisp at any zoom, a few kilobytes each, and no
plotting library to import (matplotlib took most of a report's time).

Every chart has a title, axis labels with units, and a legend laid out in its own row above the plot, so it never
covers a line. The SVG carries its own fonts and colours: it renders the same inline in a page and as an image
(the markdown summaries in the Dagster UI embed it as a data URI).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print (with the dashes).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
INK, GRID, MUTED = "#1f2328", "#d0d7de", "#57606a"
WIDTH = 720


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]  # one per x label; None: no data that day


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    marker: float | None = None  # a second figure drawn as a tick on the bar (e.g. expected listeners)
    tooltip: str = ""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float) -> str:
    """Tick and value labels: thousands separated, k/M above 10,000 so long numbers fit."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.3g}k"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 to a round number at or above `maximum`, in steps of 1, 2 or 5 x 10^k."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(round(top / step) + 1)]


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(title: str, height: int, body: list[str], description: str = "") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" font-family="{_esc(FONT)}" font-size="12" fill="{INK}">'
            f"<title>{_esc(title)}</title>" + (f"<desc>{_esc(description)}</desc>" if description else "")
            + f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600">{_esc(title)}</text>'
            + "".join(body) + "</svg>")


def _legend(labels: Sequence[str], y: float) -> list[str]:
    """One row (or more) of swatches under the title, centred, wrapping at the chart width."""
    items = [(i, _truncate(label, 40)) for i, label in enumerate(labels)]
    widths = [34 + 7 * len(text) for _, text in items]
    rows: list[list[int]] = [[]]
    for k, w in enumerate(widths):
        if rows[-1] and sum(widths[j] for j in rows[-1]) + w > WIDTH - 40:
            rows.append([])
        rows[-1].append(k)
    out = []
    for r, row in enumerate(rows):
        x = (WIDTH - sum(widths[j] for j in row)) / 2
        for k in row:
            i, text = items[k]
            dash = f' stroke-dasharray="{DASHES[(i // len(PALETTE)) % len(DASHES)]}"' if i >= len(PALETTE) else ""
            yy = y + r * 18
            out.append(f'<line x1="{x:.1f}" y1="{yy - 4}" x2="{x + 22:.1f}" y2="{yy - 4}" '
                       f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="3"{dash}/>'
                       f'<text x="{x + 28:.1f}" y="{yy}">{_esc(text)}</text>')
            x += widths[k]
    return out


def legend_rows(labels: Sequence[str]) -> int:
    widths = [34 + 7 * len(_truncate(label, 40)) for label in labels]
    rows, used = 1, 0.0
    for w in widths:
        if used and used + w > WIDTH - 40:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], x_title: str, y_title: str,
               note: str = "") -> str:
    """Lines over days. A single day is drawn as dots with their values (there is no line to draw yet)."""
    legend = len(series) > 1
    top = 36 + (18 * legend_rows([s.label for s in series]) + 6 if legend else 0)
    left, right, bottom = 70, 20, 62 + (16 if note else 0)
    plot_h = 210
    height = top + plot_h + bottom
    plot_w = WIDTH - left - right
    values = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(max(values, default=0))
    y_max = ticks[-1]
    n = len(x_labels)

    def x_at(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y_at(v: float) -> float:
        return top + plot_h - plot_h * v / y_max

    body = _legend([s.label for s in series], 36 + 12) if legend else []
    for t in ticks:
        body.append(f'<line x1="{left}" y1="{y_at(t):.1f}" x2="{WIDTH - right}" y2="{y_at(t):.1f}" stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{y_at(t) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_fmt(t)}</text>')
    every = max(1, math.ceil(n / 14))  # at most ~14 date labels
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            body.append(f'<text x="{x_at(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                        f'fill="{MUTED}">{_esc(label)}</text>')
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        dash = f' stroke-dasharray="{DASHES[(i // len(PALETTE)) % len(DASHES)]}"' if i >= len(PALETTE) else ""
        points = [(x_at(k), y_at(v), v) for k, v in enumerate(s.values) if v is not None]
        # A day without data breaks the line: no value is drawn where the lake has none.
        runs: list[list[tuple[float, float]]] = [[]]
        for k, v in enumerate(s.values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append((x_at(k), y_at(v)))
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.2"{dash}/>')
        for x, y, v in points:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                        f"<title>{_esc(s.label)}: {v:,}</title></circle>")
            if len(points) == 1:
                body.append(f'<text x="{x + 8:.1f}" y="{y - 6:.1f}">{_fmt(v)}</text>')
    body.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 40}" text-anchor="middle">{_esc(x_title)}</text>')
    body.append(f'<text transform="translate(16 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
                f"{_esc(y_title)}</text>")
    if note:
        body.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 60}" text-anchor="middle" fill="{MUTED}" '
                    f'font-style="italic">{_esc(note)}</text>')
    return _svg(title, height, body, note)


def bar_chart(title: str, bars: Sequence[Bar], x_title: str, value_label: str = "",
              marker_label: str = "") -> str:
    """Horizontal bars, largest first, each labelled with its value; `marker_label` names the ticks drawn with
    `Bar.marker` (the legend then shows both figures)."""
    markers = any(b.marker is not None for b in bars)
    legend = [value_label, marker_label] if markers else []
    top = 36 + (24 if legend else 0)
    left, right, row, bottom = 200, 70, 24, 50
    plot_w = WIDTH - left - right
    height = top + row * max(1, len(bars)) + bottom
    ticks = nice_ticks(max([b.value for b in bars] + [b.marker or 0 for b in bars], default=0))
    x_max = ticks[-1]

    def x_at(v: float) -> float:
        return left + plot_w * v / x_max

    body = []
    if legend:
        body.append(f'<rect x="{WIDTH / 2 - 150}" y="{36}" width="18" height="10" fill="{PALETTE[0]}"/>'
                    f'<text x="{WIDTH / 2 - 126}" y="{45}">{_esc(value_label)}</text>'
                    f'<line x1="{WIDTH / 2 + 20}" y1="{34}" x2="{WIDTH / 2 + 20}" y2="{48}" stroke="{INK}" '
                    f'stroke-width="3"/><text x="{WIDTH / 2 + 30}" y="{45}">{_esc(marker_label)}</text>')
    plot_bottom = top + row * len(bars)
    for t in ticks:
        body.append(f'<line x1="{x_at(t):.1f}" y1="{top}" x2="{x_at(t):.1f}" y2="{plot_bottom}" stroke="{GRID}"/>'
                    f'<text x="{x_at(t):.1f}" y="{plot_bottom + 16}" text-anchor="middle" fill="{MUTED}">'
                    f"{_fmt(t)}</text>")
    for i, b in enumerate(bars):
        y = top + row * i
        tip = f"<title>{_esc(b.tooltip or b.label)}</title>"
        body.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{tip}{_esc(_truncate(b.label, 30))}</text>'
                    f'<rect x="{left}" y="{y + 4}" width="{max(1.0, x_at(b.value) - left):.1f}" height="{row - 8}" '
                    f'fill="{PALETTE[0]}">{tip}</rect>'
                    f'<text x="{x_at(b.value) + 4:.1f}" y="{y + 16}" fill="{MUTED}">{_fmt(b.value)}</text>')
        if b.marker is not None:
            body.append(f'<line x1="{x_at(b.marker):.1f}" y1="{y + 1}" x2="{x_at(b.marker):.1f}" y2="{y + row - 1}" '
                        f'stroke="{INK}" stroke-width="3"><title>{_esc(marker_label)}: {b.marker:,}</title></line>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{plot_bottom}" stroke="{MUTED}"/>')
    body.append(f'<text x="{left + plot_w / 2}" y="{plot_bottom + 38}" text-anchor="middle">{_esc(x_title)}</text>')
    return _svg(title, height, body)


def data_uri(svg: str) -> str:
    """The chart as an image URL, for markdown (the Dagster UI shows `data:` images in metadata)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
