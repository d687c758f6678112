"""Server-side SVG bar charts: geometry here, markup in templates/metrics/_hbar.html (autoescaped).

No JavaScript and no CDN; every chart is drawn next to a table with the same
numbers, which is also what screen readers get.
"""

from __future__ import annotations


def hbar(rows: list[tuple[str, float | int | None]], *, unit: str = "", width: int = 560, fmt=None) -> dict:
    """Horizontal bars for (label, value) rows; None is drawn as "no data". `fmt` words a value
    (e.g. hours as "2 d 4 h"); without it the value is printed with `unit`."""
    label_w, bar_h, gap, pad = 240, 20, 8, 10
    plot_w = width - label_w - 70
    top = max([v for _, v in rows if v is not None] or [0]) or 1
    bars = []
    for i, (label, value) in enumerate(rows):
        y = pad + i * (bar_h + gap)
        w = 0 if value is None else max(1, round(plot_w * value / top)) if value else 0
        bars.append(
            {
                "label": label if len(label) <= 32 else label[:31] + "…",
                "value": "no data" if value is None else fmt(value) if fmt else f"{value:g}{unit}",
                "y": y,
                "w": w,
                "text_y": y + bar_h - 6,
                "value_x": label_w + w + 6,
            }
        )
    return {
        "width": width,
        "height": pad * 2 + len(rows) * (bar_h + gap),
        "label_w": label_w,
        "label_x": label_w - 8,
        "bar_h": bar_h,
        "bars": bars,
    }
