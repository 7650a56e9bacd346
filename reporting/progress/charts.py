"""Server-side SVG charts of enrollment progress, for pages and for WeasyPrint documents."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from markupsafe import Markup, escape

from reporting.filters import count, percent
from reporting.progress.rollup import MEASURE_WORDS, main_measure_name

FONT_FAMILY = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif"
RED = "#d2232a"
AMBER = "#c98a00"
GREEN = "#2e7d32"
ACCENT = "#1f4e8c"
GRID = "#d0d4da"
BAR_TINT = "#a8bddb"  # the accent blue, lightened, so the rate line stays visible over the bars
TEXT = "#333333"
MUTED = "#5f6670"
ZEBRA = "#f3f5f8"
DASH = "6 4"
#: 上年同期's line: grey and finely dashed, secondary to this year's and apart from 序时进度's long dashes
LAST_YEAR = "#8a9099"
LAST_YEAR_DASH = "2 3"
LIGHTS = {"red": RED, "yellow": AMBER, "green": GREEN}
WIDTH = 680


@dataclass(frozen=True)
class ProgressPoint:
    """One reporting period on the progress chart; None marks a period without data."""

    label: str
    enrolled: Optional[int]
    rate: Optional[float]
    time_progress: float


@dataclass(frozen=True)
class LastYearPoint:
    """One period of last year's campaign on the progress chart, placed where the same date falls
    this year: `position` counts this year's periods (0 is the first one, 1.5 halfway between the
    second and the third; −0.5 the start of the collection window)."""

    label: str
    position: float
    value: float


# --- SVG writing ---------------------------------------------------------------------------

def _num(x: float) -> str:
    """A coordinate rounded to one decimal, without a trailing .0, so the markup stays small."""
    text = f"{round(x, 1):.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def _attrs(attrs: dict) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = _num(value)
        parts.append(f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"')
    return "".join(parts)


def _el(tag: str, content: Optional[str] = None, **attrs) -> str:
    """One element; `content` is already-escaped markup, plain strings go through `_text`."""
    if content is None:
        return f"<{tag}{_attrs(attrs)}/>"
    return f"<{tag}{_attrs(attrs)}>{content}</{tag}>"


def _title(text: str) -> str:
    return _el("title", str(escape(text)))


def _text(x: float, y: float, text: str, *, size: int = 12, anchor: Optional[str] = None,
          fill: str = TEXT, **attrs) -> str:
    return _el("text", str(escape(text)), x=float(x), y=float(y), font_size=size,
               text_anchor=anchor, fill=fill, **attrs)


def _svg(width: int, height: int, title: str, body: Iterable[str]) -> Markup:
    # The <title> is the accessible name and the tooltip; the visible heading is a <text>, in the
    # regular weight: a bold face would be one more CJK font for a circular to embed and subset.
    content = "".join([_title(title),
                       _text(width / 2, 22, title, size=16, anchor="middle", fill="#1a1a1a"),
                       *body])
    return Markup(_el("svg", content, xmlns="http://www.w3.org/2000/svg", width=f"{width}px",
                      height=f"{height}px", viewBox=f"0 0 {width} {height}", role="img",
                      aria_label=title, font_family=FONT_FAMILY))


def _no_data(title: str) -> Markup:
    width, height = 320, 90
    return _svg(width, height, title, [
        _el("rect", x=0.5, y=36.5, width=width - 1, height=height - 37, fill="none", stroke=GRID),
        _text(width / 2, 68, "暂无数据", size=13, anchor="middle", fill=MUTED),
    ])


def _text_width(text: str, size: float) -> float:
    """A rough width: CJK glyphs are square, Latin ones about half as wide."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def _fit(text: str, size: float, width: float) -> str:
    """Shorten a label to a width with an ellipsis; the full name stays in the row's <title>."""
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `raw`."""
    if raw <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


# --- the progress chart over periods --------------------------------------------------------

def progress_chart(points: Sequence[ProgressPoint], *, title: str = "参保进度",
                   measure: str = "参保率", last_year: Sequence[LastYearPoint] = ()) -> Markup:
    """Cumulative enrolled bars (left axis), the rate line (or `measure`'s, e.g. 完成率) and the
    dashed 序时进度 line (right axis); with `last_year`, 上年同期's `measure` as a grey dotted line."""
    if not points or all(p.enrolled is None and p.rate is None for p in points):
        return _no_data(title)

    height = 340
    left, right, top, bottom = 78, WIDTH - 58, 66, height - 42
    plot_h = bottom - top
    band = (right - left) / len(points)

    # Both axes share the gridlines: the % axis goes in steps of 20 points, and the count
    # axis gets the same number of divisions with a round step.
    highest = max([1.0] + [p.rate for p in points if p.rate is not None]
                  + [p.time_progress for p in points] + [p.value for p in last_year])
    pct_top = math.ceil(round(highest / 0.2, 6)) * 0.2
    divisions = round(pct_top / 0.2)
    most = max([p.enrolled for p in points if p.enrolled is not None] or [0])
    count_step = _nice_step(most / divisions)
    count_top = count_step * divisions

    def x_at(i: int) -> float:
        return left + band * (i + 0.5)

    def y_count(n: int) -> float:
        return bottom - plot_h * n / count_top

    def y_pct(f: float) -> float:
        return bottom - plot_h * max(f, 0.0) / pct_top

    body = []
    for d in range(divisions + 1):
        y = bottom - plot_h * d / divisions
        body.append(_el("line", x1=float(left), y1=y, x2=float(right), y2=y, stroke=GRID,
                        stroke_width=1))
        body.append(_text(left - 6, y + 4, count(int(count_step * d)), size=11, anchor="end",
                          fill=MUTED))
        body.append(_text(right + 6, y + 4, f"{round(d * 20)}%", size=11, fill=MUTED))

    body.append(_legend(WIDTH / 2, 46, measure, bool(last_year)))

    # Period labels thin out so that they never overlap, however many periods there are.
    label_width = max(_text_width(p.label, 11) for p in points) + 8
    every = max(1, math.ceil(label_width / band))
    shown = list(range(0, len(points), every))
    if (len(points) - 1 - shown[-1]) * band >= label_width:
        shown.append(len(points) - 1)  # the latest period is the one readers look for
    for i in shown:
        body.append(_text(x_at(i), bottom + 17, points[i].label, size=11, anchor="middle",
                          fill=MUTED))

    bar_w = min(band * 0.6, 48)
    for i, p in enumerate(points):
        if p.enrolled is None:
            continue
        y = y_count(p.enrolled)
        body.append(_el("rect", _title(f"{p.label} 已参保人数 {count(p.enrolled)}"),
                        class_="bar", x=x_at(i) - bar_w / 2, y=y, width=bar_w,
                        height=bottom - y, fill=BAR_TINT))

    body.append(_el("line", x1=float(left), y1=float(bottom), x2=float(right), y2=float(bottom),
                    stroke=MUTED, stroke_width=1))

    body.append(_el("polyline", class_="time-progress", fill="none", stroke=MUTED,
                    stroke_width=1.5, stroke_dasharray=DASH,
                    points=" ".join(f"{_num(x_at(i))},{_num(y_pct(p.time_progress))}"
                                    for i, p in enumerate(points))))

    if last_year:
        body.append(_last_year_line(last_year, lambda at: left + band * (at + 0.5), y_pct, measure, right))

    # The rate line breaks at a period without data rather than bridging the gap.
    present = [(i, p) for i, p in enumerate(points) if p.enrolled is not None and p.rate is not None]
    segments: list[list[tuple[int, ProgressPoint]]] = []
    for i, p in present:
        if segments and segments[-1][-1][0] == i - 1:
            segments[-1].append((i, p))
        else:
            segments.append([(i, p)])
    for segment in segments:
        body.append(_el("polyline", class_="rate", fill="none", stroke=ACCENT, stroke_width=2,
                        stroke_linejoin="round",
                        points=" ".join(f"{_num(x_at(i))},{_num(y_pct(p.rate))}"
                                        for i, p in segment)))
    labelled = {i for i, _ in present} if len(points) <= 12 else {present[-1][0]}
    for i, p in present:
        x, y = x_at(i), y_pct(p.rate)
        body.append(_el("circle", _title(f"{p.label} {measure} {percent(p.rate)}"),
                        cx=x, cy=y, r=3, fill="#ffffff", stroke=ACCENT, stroke_width=1.5))
        if i in labelled:
            # Label on the side away from the dashed line, so the two never cross.
            label_y = y - 8 if p.rate >= p.time_progress else y + 16
            body.append(_text(x, label_y, percent(p.rate), size=10, anchor="middle", fill=ACCENT))

    return _svg(WIDTH, height, title, body)


def _last_year_line(points: Sequence[LastYearPoint], x_at, y_pct, measure: str, right: float) -> str:
    """上年同期: a grey dotted line with small hollow markers, drawn beneath this year's line, and
    its latest value in grey beside its end."""
    place = [(max(x_at(p.position), x_at(-0.5)), y_pct(p.value), p) for p in points]
    parts = [_el("polyline", fill="none", stroke=LAST_YEAR, stroke_width=1.5, stroke_dasharray=LAST_YEAR_DASH,
                 stroke_linejoin="round", points=" ".join(f"{_num(x)},{_num(y)}" for x, y, _ in place))]
    for x, y, p in place:
        parts.append(_el("circle", _title(f"上年同期 {p.label} {measure} {percent(p.value)}"),
                         cx=x, cy=y, r=2.5, fill="#ffffff", stroke=LAST_YEAR, stroke_width=1))
    # its latest value beside the end, on a patch of white that a crossing line does not show through
    x, y, p = place[-1]
    label = percent(p.value)
    width = _text_width(label, 10)
    label_x = x + 6 if x + 6 + width <= right else x - 6 - width
    parts.append(_el("rect", x=label_x - 1, y=y - 6, width=width + 2, height=12.0, fill="#ffffff"))
    parts.append(_text(label_x, y + 4, label, size=10, fill=LAST_YEAR))
    return _el("g", "".join(parts), class_="last-year")


def _legend(center: float, y: float, measure: str = "参保率", last_year: bool = False) -> str:
    """已参保人数 (bar swatch), 参保率 (line with marker), 序时进度 (dashed line), and 上年同期
    (grey dotted line) when drawn, centred."""
    items = [("已参保人数", "bar"), (measure, "rate"), ("序时进度", "time")]
    if last_year:
        items.append(("上年同期", "last-year"))
    widths = [24 + 6 + _text_width(name, 12) for name, _ in items]
    gap = 20
    x = center - (sum(widths) + gap * (len(items) - 1)) / 2
    parts = []
    for (name, kind), w in zip(items, widths):
        if kind == "bar":
            parts.append(_el("rect", x=x + 4, y=y - 9.0, width=16, height=10, fill=BAR_TINT))
        elif kind == "rate":
            parts.append(_el("line", x1=x, y1=y - 4.0, x2=x + 24, y2=y - 4.0, stroke=ACCENT,
                             stroke_width=2))
            parts.append(_el("circle", cx=x + 12, cy=y - 4.0, r=3, fill="#ffffff", stroke=ACCENT,
                             stroke_width=1.5))
        elif kind == "last-year":
            parts.append(_el("line", x1=x, y1=y - 4.0, x2=x + 24, y2=y - 4.0, stroke=LAST_YEAR,
                             stroke_width=1.5, stroke_dasharray=LAST_YEAR_DASH))
            parts.append(_el("circle", cx=x + 12, cy=y - 4.0, r=2.5, fill="#ffffff", stroke=LAST_YEAR,
                             stroke_width=1))
        else:
            parts.append(_el("line", x1=x, y1=y - 4.0, x2=x + 24, y2=y - 4.0, stroke=MUTED,
                             stroke_width=1.5, stroke_dasharray=DASH))
        parts.append(_text(x + 30, y, name, size=12))
        x += w + gap
    return _el("g", "".join(parts), class_="legend")


# --- the rate of each unit -----------------------------------------------------------------

def _bar_colour(rate: float, target_rate: float, light: Optional[str]) -> str:
    if light is not None:
        if light not in LIGHTS:
            raise ValueError(f"unknown light {light!r}: expected red, yellow or green")
        return LIGHTS[light]
    if rate < target_rate - 0.10:
        return RED
    if rate < target_rate:
        return AMBER
    return GREEN


def rate_bars(units: Sequence[tuple], *, target_rate: Optional[float] = 0.95,
              time_progress: Optional[float] = None, title: str = "各地参保率") -> Markup:
    """One horizontal bar per unit: (name, rate) or (name, rate, 'red'|'yellow'|'green'), the
    light being the unit's own (the table's colour). The axis ends at 100% unless a value passes
    it; `target_rate` None draws no target line (a 完成率's target is the axis' end)."""
    if not units or all(u[1] is None for u in units):
        return _no_data(title)

    row_h, bar_h, size = 20, 12, 12
    longest = max(_text_width(str(u[0]), size) for u in units)
    label_w = min(longest, 13 * size) + 12  # long village names are cut; <title> keeps them whole
    left, right = label_w, WIDTH - 66  # room for "100.00%" printed past the longest bar
    top = 78 if time_progress is not None else 60
    bottom = top + row_h * len(units)
    height = bottom + 26
    highest = max([1.0] + [u[1] for u in units if u[1] is not None])
    axis_top = 1.0 if highest <= 1.0 else math.ceil(round(highest / 0.2, 6)) * 0.2

    def x_at(f: float) -> float:
        return left + (right - left) * max(f, 0.0) / axis_top

    body = []
    for i in range(1, len(units), 2):
        body.append(_el("rect", x=0.0, y=float(top + row_h * i), width=WIDTH, height=row_h,
                        fill=ZEBRA))
    tick = 0.0
    while tick <= axis_top + 1e-9:
        x = x_at(tick)
        body.append(_el("line", x1=x, y1=float(top), x2=x, y2=float(bottom), stroke=GRID,
                        stroke_width=1))
        body.append(_text(x, bottom + 16, f"{round(tick * 100)}%", size=11, anchor="middle",
                          fill=MUTED))
        tick += 0.2

    values = []
    for i, unit in enumerate(units):
        name, rate = str(unit[0]), unit[1]
        light = unit[2] if len(unit) > 2 else None
        y_mid = top + row_h * i + row_h / 2
        row = [_title(f"{name} {percent(rate)}"),
               _text(left - 8, y_mid + 4, _fit(name, size, label_w - 12), size=size, anchor="end")]
        if rate is None:
            row.append(_text(left + 4, y_mid + 4, "—", size=11, fill=MUTED))
        else:
            end = x_at(rate)
            row.append(_el("rect", class_="bar", x=float(left), y=y_mid - bar_h / 2,
                           width=end - left, height=bar_h,
                           fill=_bar_colour(rate, target_rate if target_rate is not None else 1.0, light)))
            # The value sits on a patch of its row's background, so a reference line
            # running through it does not cross the digits.
            label = percent(rate)
            values.append(_el("rect", x=end + 2, y=y_mid - 7, width=_text_width(label, 11) + 4,
                              height=14.0, fill=ZEBRA if i % 2 else "#ffffff"))
            values.append(_text(end + 4, y_mid + 4, label, size=11, class_="value"))
        body.append(_el("g", "".join(row), class_="unit"))

    body.append(_el("line", x1=float(left), y1=float(top), x2=float(left), y2=float(bottom),
                    stroke=MUTED, stroke_width=1))
    if target_rate is not None:
        body.append(_reference_line(x_at(target_rate), top, bottom, 46, f"目标 {percent(target_rate)}",
                                    ACCENT, None, "target"))
    if time_progress is not None:
        body.append(_reference_line(x_at(time_progress), top, bottom, 64,
                                    f"序时进度 {percent(time_progress)}", MUTED, DASH,
                                    "time-progress"))
    body.extend(values)
    return _svg(WIDTH, height, title, body)


def _reference_line(x: float, top: float, bottom: float, label_y: float, label: str, colour: str,
                    dash: Optional[str], name: str) -> str:
    """A vertical line over all rows, labelled above the rows, kept inside the chart's width."""
    half = _text_width(label, 11) / 2
    anchor, label_x = "middle", x
    if x + half > WIDTH - 4:
        anchor, label_x = "end", x + 4
    elif x - half < 4:
        anchor, label_x = "start", x - 4
    return _el("g", "".join([
        _el("line", x1=x, y1=float(top - 6), x2=x, y2=float(bottom), stroke=colour,
            stroke_width=1.5, stroke_dasharray=dash),
        _text(label_x, label_y, label, size=11, anchor=anchor, fill=colour),
    ]), class_=name)


# --- the charts of one region's progress, as the dashboard and the 通报 show them ------------

def progress_points(result) -> list[ProgressPoint]:
    """The region's periods on the one basis (ranking.Progress): a cumulative series that never
    dips because a unit has not filed, with the measure its light judges (完成率 with tasks)."""
    from reporting.calendar.schedule import time_progress
    head = result.region
    return [ProgressPoint(label=f"{p.as_of.month}月{p.as_of.day}日",
                          enrolled=totals.get("enrolled") if totals.filed else None,
                          rate=head.measure_of(totals) if totals.filed else None,
                          time_progress=time_progress(result.campaign, p.as_of))
            for p, totals in zip(result.periods, head.series)]


def last_year_points(result) -> list[LastYearPoint]:
    """上年同期's course of the region's main measure (the one its line draws), each of last year's
    periods placed at its date a year on, between this year's periods; empty without last year."""
    from reporting.calendar.schedule import shift_years
    last = result.region.last_year
    if last is None or not result.periods:
        return []
    name = main_measure_name(result.region.task)
    anchors = [(result.campaign.start, -0.5), *((p.as_of, float(i)) for i, p in enumerate(result.periods))]
    found = []
    for as_of, totals in last.course:
        value = last.measure_of(totals, name)
        if value is not None:
            found.append(LastYearPoint(f"{as_of.year}年{as_of.month}月{as_of.day}日",
                                       _position(shift_years(as_of, 1), anchors), value))
    return found


def _position(day, anchors: list[tuple]) -> float:
    """Where `day` falls along the anchors (date, position), in order: straight between two of them,
    held at the ends."""
    if day <= anchors[0][0]:
        return anchors[0][1]
    for (before, at), (after, to) in zip(anchors, anchors[1:]):
        if day <= after:
            return at + (to - at) * (day - before).days / max((after - before).days, 1)
    return anchors[-1][1]


def measure_word(result) -> str:
    return MEASURE_WORDS[main_measure_name(result.region.task)]


def unit_bars(result, title: str) -> Markup:
    """Each child's main measure, coloured by its light, against 序时进度 (and the target rate)."""
    units = [(r.region.name, r.main_measure, r.light) for r in sorted(result.children, key=lambda r: r.region.code)]
    return rate_bars(units, target_rate=None if result.region.task else float(result.campaign.target_rate),
                     time_progress=result.time_progress, title=title)


def progress_charts(result, name: str) -> dict:
    """The dashboard's two charts of a region; a unit that files itself has no units to compare
    (`rates` None)."""
    word = measure_word(result)
    return {"progress": progress_chart(progress_points(result), title=f"{name}累计参保进度", measure=word,
                                       last_year=last_year_points(result)),
            "rates": unit_bars(result, f"{name}各地{word}") if result.children else None}
