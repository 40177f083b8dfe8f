"""Small inline-SVG charts for the back office (no JavaScript library, no CDN).

Every label is XML-escaped: channel names and metric keys come from data. Each chart carries a
``<title>`` and ``role="img"`` with an ``aria-label`` for screen readers, and the pages show the
same figures in a table next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#e8453c", "#1f618d", "#1e8449", "#b9770e", "#6c3483", "#117a65", "#a93226", "#2e4053")


def _fmt(value: float, *, percent: bool) -> str:
    return f"{value * 100:.1f}%" if percent else (f"{value:.3g}" if isinstance(value, float) else str(value))


def bar_chart(rows: Sequence[tuple[str, float]], *, label: str, percent: bool = False) -> SafeString:
    """Horizontal bars, one per row; empty string when there is nothing to draw."""
    rows = [(str(name), float(value or 0.0)) for name, value in rows]
    if not rows:
        return mark_safe("")
    top = max((v for _n, v in rows), default=0.0) or 1.0
    bar_h, gap, left, width = 22, 8, 130, 460
    height = len(rows) * (bar_h + gap) + gap
    parts = [
        f'<svg class="chart" viewBox="0 0 {left + width + 70} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
    ]
    for i, (name, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(1.0, width * value / top)
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" class="axis">{escape(name[:18])}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{colour}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + bar_h * 0.7:.1f}" class="value">'
            f"{escape(_fmt(value, percent=percent))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def line_chart(series: dict[str, Sequence[tuple[str, float]]], *, label: str) -> SafeString:
    """Lines over a shared categorical x axis (dates or run labels), with a legend."""
    series = {name: [(str(x), float(y)) for x, y in points if y is not None] for name, points in series.items()}
    series = {name: points for name, points in series.items() if points}
    if not series:
        return mark_safe("")
    xs = sorted({x for points in series.values() for x, _y in points})
    top = max(y for points in series.values() for _x, y in points) or 1.0
    left, right, top_pad, bottom, width, height = 50, 20, 20, 40, 560, 200
    step = (width - left - right) / max(1, len(xs) - 1)
    x_of = {x: left + i * step if len(xs) > 1 else left + (width - left - right) / 2 for i, x in enumerate(xs)}

    def y_of(value: float) -> float:
        return top_pad + (height - top_pad - bottom) * (1 - value / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height + 20 * ((len(series) + 2) // 3)}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>',
        f'<line x1="{left}" y1="{y_of(0):.1f}" x2="{width - right}" y2="{y_of(0):.1f}" class="grid"/>',
        f'<line x1="{left}" y1="{y_of(top):.1f}" x2="{width - right}" y2="{y_of(top):.1f}" class="grid"/>',
        f'<text x="{left - 6}" y="{y_of(top) + 4:.1f}" text-anchor="end" class="axis">{escape(f"{top:.3g}")}</text>',
        f'<text x="{left - 6}" y="{y_of(0) + 4:.1f}" text-anchor="end" class="axis">0</text>',
    ]
    shown_x = xs if len(xs) <= 8 else [xs[i] for i in range(0, len(xs), max(1, len(xs) // 6))]
    for x in shown_x:
        parts.append(f'<text x="{x_of[x]:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="axis">'
                     f"{escape(x[-10:])}</text>")
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x_of[x]:.1f},{y_of(y):.1f}" for x, y in points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points:
            parts.append(f'<circle cx="{x_of[x]:.1f}" cy="{y_of(y):.1f}" r="3" fill="{colour}">'
                         f"<title>{escape(name)} {escape(x)}: {escape(f'{y:.4g}')}</title></circle>")
        lx, ly = left + (i % 3) * 170, height + 4 + (i // 3) * 20
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{lx + 18}" y="{ly + 11}" class="axis">{escape(name[:24])}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _run_label(run) -> str:
    return run.started_at.strftime("%m-%d %H:%M")


def metric_series(history: list[dict]) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """``{metric: {channel: [(run label, value), ...]}}`` from job runs that recorded offline metrics."""
    out: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for entry in history:
        for channel, metrics in (entry["metrics"] or {}).items():
            if not isinstance(metrics, dict):
                continue
            for metric, value in metrics.items():
                if isinstance(value, int | float):
                    out.setdefault(str(metric), {}).setdefault(str(channel), []).append(
                        (_run_label(entry["run"]), float(value)))
    return out


def fit_series(history: list[dict]) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for entry in history:
        for channel, seconds in (entry["fit_seconds"] or {}).items():
            if isinstance(seconds, int | float):
                out.setdefault(str(channel), []).append((_run_label(entry["run"]), float(seconds)))
    return out
