"""SVG charts: what a reader sees in the progress chart and the per-unit rate bars."""
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from reporting.progress.charts import (
    AMBER,
    GREEN,
    LAST_YEAR,
    RED,
    LastYearPoint,
    ProgressPoint,
    progress_chart,
    rate_bars,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg):
    return ET.fromstring(str(svg))


def find(root, tag, cls=None):
    return [e for e in root.iter(SVG + tag) if cls is None or e.get("class") == cls]


def texts(root):
    return ["".join(e.itertext()) for e in root.iter(SVG + "text")]


def season(enrolled):
    """Semi-monthly points from 10月1日; rates against 1,000,000 people should enroll."""
    labels = ["10月1日", "10月15日", "11月1日", "11月15日", "12月1日", "12月15日"]
    return [ProgressPoint(label, n, None if n is None else n / 1_000_000, (k + 1) / 7)
            for k, (label, n) in enumerate(zip(labels, enrolled))]


def axis(root):
    """x of 0% and of 100% on the rate-bar axis, read from the tick labels under the rows."""
    ticks = {"".join(t.itertext()): float(t.get("x")) for t in root.iter(SVG + "text")}
    return ticks["0%"], ticks["100%"]


def test_every_chart_is_a_sized_and_named_image():
    for svg in (progress_chart(season([1, 2]), title="江门市参保进度"),
                rate_bars([("蓬江区", 0.9)], title="江门市参保进度"),
                rate_bars([], title="江门市参保进度")):
        root = parse(svg)
        assert re.fullmatch(r"\d+px", root.get("width")) and re.fullmatch(r"\d+px", root.get("height"))
        assert root.get("viewBox") == f"0 0 {root.get('width')[:-2]} {root.get('height')[:-2]}"
        assert root.get("role") == "img" and root.get("aria-label") == "江门市参保进度"
        assert root.find(SVG + "title").text == "江门市参保进度"
        assert "Noto Sans CJK SC" in root.get("font-family")
        # The page's CSP forbids inline styles.
        assert "style" not in str(svg)


def test_progress_chart_draws_a_bar_per_reported_period_and_a_legend():
    root = parse(progress_chart(season([120_000, 350_000, 560_000, 780_000])))
    assert len(find(root, "rect", "bar")) == 4
    shown = texts(root)
    assert {"已参保人数", "参保率", "序时进度"} <= set(shown)
    assert "10月15日" in shown
    assert "78.00%" in shown  # the latest rate, two decimals
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+", t) for t in shown)  # counts with 千分位


def test_progress_bars_grow_with_the_count():
    bars = find(parse(progress_chart(season([100_000, 400_000]))), "rect", "bar")
    assert float(bars[1].get("height")) == pytest.approx(4 * float(bars[0].get("height")), abs=0.2)


def test_a_period_without_data_breaks_the_rate_line():
    root = parse(progress_chart(season([100_000, 300_000, None, 600_000, 700_000])))
    assert len(find(root, "rect", "bar")) == 4
    segments = [line.get("points").split() for line in find(root, "polyline", "rate")]
    assert [len(s) for s in segments] == [2, 2]
    # 序时进度 is known for every period, data or not: one unbroken dashed line.
    (progress,) = find(root, "polyline", "time-progress")
    assert len(progress.get("points").split()) == 5 and progress.get("stroke-dasharray")


def test_last_years_line_sits_at_its_dates_in_grey_and_dotted_beneath_this_years():
    points = season([300_000, 450_000, 600_000])
    last_year = [LastYearPoint("2025年10月1日", 0.0, 0.25), LastYearPoint("2025年10月8日", 0.5, 0.3),
                 LastYearPoint("2025年11月1日", 2.0, 0.55)]
    root = parse(progress_chart(points, measure="完成率", last_year=last_year))
    (group,) = find(root, "g", "last-year")
    (line,) = group.iter(SVG + "polyline")
    assert line.get("stroke") == LAST_YEAR and line.get("stroke-dasharray")
    xs = [float(xy.split(",")[0]) for xy in line.get("points").split()]
    ys = [float(xy.split(",")[1]) for xy in line.get("points").split()]
    rate_xs = [float(xy.split(",")[0]) for xy in find(root, "polyline", "rate")[0].get("points").split()]
    # on this year's periods' places, and halfway between two of them
    assert (xs[0], xs[2]) == (rate_xs[0], rate_xs[2]) and xs[1] == pytest.approx((rate_xs[0] + rate_xs[1]) / 2, abs=0.1)
    assert ys[0] > ys[1] > ys[2]  # higher on the page as the rate grows
    titles = [c.find(SVG + "title").text for c in group.iter(SVG + "circle")]
    assert titles == ["上年同期 2025年10月1日 完成率 25.00%", "上年同期 2025年10月8日 完成率 30.00%",
                      "上年同期 2025年11月1日 完成率 55.00%"]
    assert "55.00%" in texts(root) and "上年同期" in texts(root)  # its latest value, and the legend
    # drawn before this year's line, so that this year's stays on top
    order = [e.get("class") for e in root if e.get("class") in ("last-year", "rate")]
    assert order[0] == "last-year"


def test_without_last_year_the_chart_has_no_such_line_or_legend():
    root = parse(progress_chart(season([300_000, 450_000])))
    assert not find(root, "g", "last-year") and "上年同期" not in texts(root)


def test_a_last_year_above_every_rate_stretches_the_axis():
    root = parse(progress_chart(season([300_000]), last_year=[LastYearPoint("2025年10月1日", 0.0, 1.1)]))
    assert "120%" in texts(root)


@pytest.mark.parametrize("points", [[], season([None, None])])
def test_progress_chart_without_data_says_so(points):
    root = parse(progress_chart(points))
    assert "暂无数据" in texts(root)
    assert root.find(SVG + "title").text == "参保进度"


def test_rate_bars_draw_one_row_per_unit_and_grow_with_the_count():
    few = parse(rate_bars([(f"镇{i}", 0.9) for i in range(5)]))
    many = parse(rate_bars([(f"镇{i}", 0.5 + i / 200) for i in range(82)]))
    assert len(find(few, "rect", "bar")) == 5
    assert len(find(many, "rect", "bar")) == 82
    assert int(many.get("height")[:-2]) - int(few.get("height")[:-2]) >= 77 * 16


def test_a_unit_without_a_rate_keeps_its_row_but_has_no_bar():
    root = parse(rate_bars([("蓬江区", 0.97), ("台山市", None)]))
    assert len(find(root, "rect", "bar")) == 1
    shown = texts(root)
    assert "台山市" in shown and "—" in shown
    assert "97.00%" in shown


def test_target_line_stands_at_95_percent():
    root = parse(rate_bars([("蓬江区", 0.5), ("江海区", 0.97)]))
    x0, x100 = axis(root)
    (target,) = find(root, "g", "target")
    line = target.find(SVG + "line")
    assert float(line.get("x1")) == pytest.approx(x0 + 0.95 * (x100 - x0), abs=0.1)
    assert "目标 95.00%" in texts(target)
    # Bar lengths are on the same scale: half of the axis for 50%.
    half = find(root, "rect", "bar")[0]
    assert float(half.get("width")) == pytest.approx(0.5 * (x100 - x0), abs=0.1)


def test_time_progress_line_only_when_given():
    assert not find(parse(rate_bars([("蓬江区", 0.9)])), "g", "time-progress")
    root = parse(rate_bars([("蓬江区", 0.9)], time_progress=0.7234))
    x0, x100 = axis(root)
    (group,) = find(root, "g", "time-progress")
    line = group.find(SVG + "line")
    assert float(line.get("x1")) == pytest.approx(x0 + 0.7234 * (x100 - x0), abs=0.1)
    assert line.get("stroke-dasharray")
    assert "序时进度 72.34%" in texts(group)


def test_axis_stretches_past_100_percent_for_the_highest_rate():
    root = parse(rate_bars([("恩平市", 1.08), ("开平市", 0.5)]))
    x0, x100 = axis(root)
    long_bar = find(root, "rect", "bar")[0]
    assert float(long_bar.get("width")) == pytest.approx(1.08 * (x100 - x0), abs=0.1)
    assert float(long_bar.get("x")) + float(long_bar.get("width")) < int(root.get("width")[:-2])


def test_names_from_data_are_escaped():
    name = '江海<&>区"</text><script>'
    for svg in (rate_bars([(name, 0.9)], title=name),
                progress_chart([ProgressPoint(name, 10, 0.1, 0.2)], title=name)):
        root = parse(svg)  # well-formed despite the markup in the name
        assert "<script>" not in str(svg)
        assert root.get("aria-label") == name
        assert name in texts(root)


def test_long_names_are_cut_but_kept_whole_in_the_tooltip():
    name = "广东省江门市恩平市圣堂镇很长很长的村民委员会"
    root = parse(rate_bars([(name, 0.9)]))
    (unit,) = find(root, "g", "unit")
    assert unit.find(SVG + "title").text.startswith(name)
    assert any(t.endswith("…") for t in texts(unit))


@pytest.mark.parametrize("rate, colour", [
    (0.60, RED), (0.849, RED),           # more than 10 points under the target
    (0.85, AMBER), (0.9499, AMBER),      # under the target
    (0.95, GREEN), (1.02, GREEN),
])
def test_bar_colour_follows_the_target(rate, colour):
    (bar,) = find(parse(rate_bars([("蓬江区", rate)])), "rect", "bar")
    assert bar.get("fill") == colour


def test_callers_light_wins_over_the_target():
    root = parse(rate_bars([("蓬江区", 0.99, "red"), ("江海区", 0.50, "green"), ("新会区", 0.9, "yellow")]))
    assert [b.get("fill") for b in find(root, "rect", "bar")] == [RED, GREEN, AMBER]
    with pytest.raises(ValueError):
        rate_bars([("蓬江区", 0.99, "blue")])


@pytest.mark.parametrize("units", [[], [("蓬江区", None), ("江海区", None)]])
def test_rate_bars_without_data_say_so(units):
    root = parse(rate_bars(units))
    assert "暂无数据" in texts(root)
    assert not find(root, "rect", "bar")


def test_numbers_stay_compact():
    svg = str(rate_bars([(f"镇{i}", 1 / 3 + i / 97) for i in range(20)], time_progress=2 / 3))
    assert not re.search(r"\d\.\d{2,}\"", svg)  # coordinates rounded to one decimal


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_charts_render_in_a_pdf(tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    from PIL import Image

    progress = progress_chart(season([120_000, 350_000, None, 780_000, 900_000]))
    bars = rate_bars([("蓬江区", 0.97), ("江海区", 0.88), ("新会区", 0.70), ("台山市", None)],
                     time_progress=0.72)
    pdf = tmp_path / "charts.pdf"
    weasyprint.HTML(string=f'<html lang="zh-CN"><body>{progress}{bars}</body></html>').write_pdf(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)
    (png,) = tmp_path.glob("page*.png")
    assert png.stat().st_size > 10_000

    # The bars show in their light colours, not as a blank page.
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(1 << 24)
    for colour in (RED, AMBER, GREEN):
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        near = sum(n for n, c in colours if max(abs(a - b) for a, b in zip(c, rgb)) < 12)
        assert near > 50, colour


def test_axis_ends_at_100_percent_unless_a_value_passes_it():
    below = texts(parse(rate_bars([("恩平市", 0.62), ("开平市", 0.5)])))
    assert "100%" in below and "120%" not in below
    above = texts(parse(rate_bars([("恩平市", 1.08), ("开平市", 0.5)])))
    assert "120%" in above and "140%" not in above  # the next tick past the highest value


def test_completion_bars_take_the_units_light_and_draw_no_target_rate():
    root = parse(rate_bars([("蓬江区", 0.78, "green"), ("恩平市", 0.53, "red")], target_rate=None,
                           time_progress=0.7459))
    assert [b.get("fill") for b in find(root, "rect", "bar")] == [GREEN, RED]
    assert not find(root, "g", "target") and find(root, "g", "time-progress")
