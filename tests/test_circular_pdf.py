"""The 通报 PDF: GB/T 9704-2012 page geometry, fonts, text and the fenced URL fetcher."""
from __future__ import annotations

import datetime as dt
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from reporting.circulars.document import (
    Attachment,
    Circular,
    DocumentNumber,
    Section,
    Signature,
    Table,
    balanced_lines,
    render_circular_html,
)
from reporting.pdf import StaticOnlyFetcher, create_pdf, static_file

from .fixtures.circulars import TITLE, jiangmen_rows, sample_circular

PT_PER_MM = 72 / 25.4


# --- poppler helpers -------------------------------------------------------------------

def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@dataclass
class Word:
    page: int
    text: str
    x_min: float  # mm from the page's left edge
    y_min: float  # mm from the page's top edge
    x_max: float
    y_max: float


def words(pdf: Path) -> list[Word]:
    """Every word with its box in mm, from pdftotext -bbox."""
    html = _run("pdftotext", "-bbox", str(pdf), "-")
    found, page = [], 0
    for line in html.splitlines():
        if "<page " in line:
            page += 1
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line)
        if m:
            x0, y0, x1, y1 = (float(v) / PT_PER_MM for v in m.groups()[:4])
            found.append(Word(page, m[5], x0, y0, x1, y1))
    return found


def page_text(pdf: Path, page: int) -> str:
    return _run("pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-")


def page_count(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M)[1])


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _raster(pdf: Path, page: int, dpi: int) -> tuple[int, int, bytes]:
    """Page `page` as RGB pixels from pdftoppm (a binary PPM): width, height, bytes."""
    ppm = subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), str(pdf)],
                         check=True, capture_output=True).stdout
    _, size, _, pixels = ppm.split(b"\n", 3)
    width, height = map(int, size.split())
    return width, height, pixels


def ink_bands(pdf: Path, page: int, is_ink, dpi: int = 100,
              between: tuple[float, float] = (0, 210)) -> list[tuple[float, float, float, float]]:
    """Bands of consecutive pixel rows holding ink (looking only `between` two x positions
    in mm), as (top, bottom, left, right) in mm."""
    width, height, pixels = _raster(pdf, page, dpi)
    first, last = (min(width, round(x * dpi / 25.4)) for x in between)
    bands: list[list[float]] = []
    for y in range(height):
        row = pixels[(y * width + first) * 3:(y * width + last) * 3]
        xs = [first + x for x, rgb in enumerate(zip(row[0::3], row[1::3], row[2::3])) if is_ink(*rgb)]
        if not xs:
            continue
        top, bottom, left, right = (v * 25.4 / dpi for v in (y, y + 1, xs[0], xs[-1] + 1))
        if bands and abs(bands[-1][1] - top) < 1e-6:
            bands[-1][1:] = [bottom, min(bands[-1][2], left), max(bands[-1][3], right)]
        else:
            bands.append([top, bottom, left, right])
    return [tuple(band) for band in bands]


def red(r: int, g: int, b: int) -> bool:
    return r > 150 and g < 110 and b < 110


def black(r: int, g: int, b: int) -> bool:
    return r < 100 and g < 100 and b < 100


def full_width_rules(pdf: Path, page: int, dpi: int = 300) -> list[tuple[float, float]]:
    """Horizontal black rules spanning the type area (28–184 mm), as (top, bottom) in mm."""
    width, height, pixels = _raster(pdf, page, dpi)
    left, right = round(28 * dpi / 25.4), round(184 * dpi / 25.4)
    rules: list[list[float]] = []
    for y in range(height):
        row = pixels[y * width * 3 + left * 3:y * width * 3 + right * 3:3]  # red channel
        if sum(v < 100 for v in row) < 0.95 * (right - left):
            continue
        top, bottom = y * 25.4 / dpi, (y + 1) * 25.4 / dpi
        if rules and abs(rules[-1][1] - top) < 1e-6:
            rules[-1][1] = bottom
        else:
            rules.append([top, bottom])
    return [tuple(rule) for rule in rules]


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("circular") / "circular.pdf"
    path.write_bytes(create_pdf(render_circular_html(sample_circular())))
    return path


# --- the sample circular ---------------------------------------------------------------

def test_every_page_is_a4(pdf):
    info = _run("pdfinfo", "-f", "1", "-l", str(page_count(pdf)), str(pdf))
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert len(sizes) == page_count(pdf) > 1
    for width, height in sizes:
        assert abs(float(width) - 595.28) < 1 and abs(float(height) - 841.89) < 1


def test_all_fonts_are_embedded(pdf):
    lines = _run("pdffonts", str(pdf)).splitlines()
    header, rule, rows = lines[0], lines[1], lines[2:]
    # Columns are fixed-width (a type may contain spaces): locate "emb" from the rule line.
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    emb = next(span for span in spans if header[span[0]:span[1]].strip() == "emb")
    assert rows, "the PDF uses no fonts at all"
    assert all(row[emb[0]:emb[1]].strip() == "yes" for row in rows), "\n".join(lines)


def test_text_is_extractable_and_complete(pdf):
    text = compact(_run("pdftotext", str(pdf), "-"))
    assert compact(TITLE + "（截至2022年11月15日）") in text
    assert "第3期" not in text  # the serial is in the 发文字号, not beside the data's date
    assert "江医保〔2022〕41号" in text
    assert "各县（市、区）医疗保障局：" in text
    assert "埇桥区" in text  # outside GB2312: must survive the fallback fonts
    assert "附件：1．2023年度各县（市、区）参保进度排名表" in text
    assert "2022年11月15日" in text
    assert not re.search(r"\d年0\d月|月0\d日", text), "dates are not zero-padded"
    assert "抄送：市人民政府办公室，市财政局，市税务局。" in text
    assert "江门市医疗保障局办公室" in text and "2022年11月15日印发" in text
    assert "— 1 —" in _run("pdftotext", "-layout", "-f", "1", "-l", "1", str(pdf), "-")


def test_township_table_repeats_its_header_on_every_page(pdf):
    townships = [t["name"] for t in jiangmen_rows("streets.csv")]
    texts = {n: page_text(pdf, n) for n in range(1, page_count(pdf) + 1)}
    table_pages = [n for n, text in texts.items() if any(name in text for name in townships)]
    assert len(table_pages) >= 2
    for n in table_pages:
        assert "镇（街道）" in texts[n] and "应参保人数" in texts[n], f"page {n} lacks the header"
    text = compact("".join(texts.values()))
    assert len(townships) == 82 and all(name in text for name in townships)


def test_masthead_and_margins_follow_gb_t_9704(pdf):
    page_one = [w for w in words(pdf) if w.page == 1]
    issuer = next(w for w in page_one if w.text == "江门市医疗保障局文件")
    number = next(w for w in page_one if w.text == "江医保〔2022〕41号")
    assert abs((issuer.x_min + issuer.x_max) / 2 - (28 + 156 / 2)) <= 1, "the 红头 is centred"
    assert abs((number.x_min + number.x_max) / 2 - (28 + 156 / 2)) <= 1, "the 发文字号 is centred"
    # pdftotext's box runs from the font's ascender line (3 mm above the glyphs for Noto CJK),
    # so the 红头's top edge is read from its red ink: 天头 37 mm + 35 mm.
    (mark_top, mark_bottom, _, _), (rule_top, rule_bottom, rule_left, rule_right) = ink_bands(pdf, 1, red)
    assert abs(mark_top - 72) <= 1, mark_top
    assert issuer.y_min < mark_top < mark_bottom < issuer.y_max
    # The red separator: 4 mm below the 发文字号's ink, the full width of the type area.
    number_bottom = max(bottom for top, bottom, _, _ in ink_bands(pdf, 1, black) if bottom < rule_top)
    assert abs(rule_top - number_bottom - 4) <= 0.5, (number_bottom, rule_top)
    assert rule_bottom < rule_top + 1
    assert abs(rule_left - 28) <= 0.5 and abs(rule_right - 184) <= 0.5
    addressee = next(w for w in page_one if w.text.startswith("各县（市、区）"))
    assert abs(addressee.x_min - 28) <= 1, addressee  # 订口 28 mm


def test_page_numbers_sit_outside_right_then_left(pdf):
    found = words(pdf)
    for page, side in ((1, "right"), (2, "left")):
        number = next(w for w in found if w.page == page and w.text == str(page) and w.y_min > 262)
        dashes = [w for w in found if w.page == page and w.text == "—" and w.y_min > 262]
        assert len(dashes) == 2
        left, right = min(w.x_min for w in dashes), max(w.x_max for w in dashes)
        if side == "right":  # one 4号 character (4.9 mm) in from the type area's right edge, 184 mm
            assert 178 < right < 180.5 and number.x_min > 150
        else:
            assert 32 < left < 34.5 and number.x_max < 60
        # The dashes' ink 7 mm below the type area, which ends 262 mm down.
        ink = ink_bands(pdf, page, black, dpi=300, between=(dashes[0].x_min, dashes[0].x_max))
        dash_top = min(top for top, _, _, _ in ink if top > 262)
        assert abs(dash_top - 269) <= 0.5, dash_top


def test_imprint_closes_the_last_page(pdf):
    last = page_count(pdf)
    found = [w for w in words(pdf) if w.page == last]
    copy_to = next(w for w in found if w.text.startswith("抄送："))
    printed_by = next(w for w in found if w.text == "江门市医疗保障局办公室")
    printed_on = next(w for w in found if w.text == "2022年11月15日印发")
    # One 4号 character (4.94 mm) in from each side of the type area.
    assert abs(copy_to.x_min - 32.94) <= 0.5 and abs(printed_by.x_min - 32.94) <= 0.5
    assert abs(printed_on.x_max - 179.06) <= 0.5
    # Thick, thin, thick: the last rule is the type area's bottom edge, 262 mm down.
    (top1, bottom1), (top2, bottom2), (top3, bottom3) = full_width_rules(pdf, last)[-3:]
    assert abs(bottom3 - 262) <= 0.3
    assert bottom1 - top1 > bottom2 - top2 < bottom3 - top3
    assert bottom1 < copy_to.y_min < copy_to.y_max < top2
    assert bottom2 < printed_on.y_min < printed_on.y_max < top3


# --- the grid --------------------------------------------------------------------------

def grid_circular() -> Circular:
    return sample_circular(
        addressee="丙" * 55,  # with "：", 56 characters flush left
        as_of=None,  # a two-line title, so that page 2 holds nothing but 丁
        sections=[Section("一、网格", ["甲" * 54, "乙" * 55, "丁" * (28 * 44)])],
        attachments=[],
    )


@pytest.fixture(scope="module")
def grid_pdf(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("grid") / "grid.pdf"
    path.write_bytes(create_pdf(render_circular_html(grid_circular())))
    return path


def _lines_of(found: list[Word], char: str, page: int | None = None) -> list[list[Word]]:
    lines: dict[tuple[int, float], list[Word]] = {}
    for w in found:
        if set(w.text) <= {char, "："} and char in w.text and page in (None, w.page):
            lines.setdefault((w.page, round(w.y_min, 1)), []).append(w)
    return [lines[key] for key in sorted(lines)]


def test_28_characters_fill_a_line(grid_pdf):
    found = words(grid_pdf)
    flush = _lines_of(found, "丙")
    assert [sum(len(w.text) for w in line) for line in flush] == [28, 28]
    # Two indent cells and 54 characters: two full lines, the second ending at the right edge.
    indented = _lines_of(found, "甲")
    assert len(indented) == 2
    assert abs(indented[0][0].x_min - (28 + 2 * 156 / 28)) <= 0.5
    assert abs(max(w.x_max for w in indented[1]) - 184) <= 0.5
    assert len(_lines_of(found, "乙")) == 3  # one more character takes a third line


def test_22_lines_fill_a_page(grid_pdf):
    page_two = _lines_of(words(grid_pdf), "丁", page=2)
    assert len(page_two) == 22
    pitch = (page_two[-1][0].y_min - page_two[0][0].y_min) / 21
    assert abs(pitch - 225 / 22) < 0.1


# --- the pieces ------------------------------------------------------------------------

def test_document_number_and_dates():
    assert str(DocumentNumber("江医保", 2022, 41)) == "江医保〔2022〕41号"
    assert str(DocumentNumber("江医保", 2023, 7)) == "江医保〔2023〕7号"
    assert Signature("江门市医疗保障局", dt.date(2023, 1, 5)).date_text == "2023年1月5日"
    with pytest.raises(ValueError):
        DocumentNumber("江医保", 22, 41)


def test_long_title_breaks_into_balanced_lines_between_words():
    assert balanced_lines(TITLE, 19) == ["关于2023年度城乡居民基本医疗保险", "参保缴费工作进展情况的通报"]
    # Three lines make a trapezoid, not an hourglass, and the date stays whole.
    assert balanced_lines(TITLE + "（截至2022年11月15日）", 19) == [
        "关于2023年度城乡居民基本医疗保险", "参保缴费工作进展情况的通报", "（截至2022年11月15日）"]
    assert balanced_lines("2023年度各村（社区）参保进度表（截至11月14日）", 19) == [
        "2023年度各村（社区）", "参保进度表（截至11月14日）"]
    assert balanced_lines("关于通报批评的通报", 19) == ["关于通报批评的通报"]
    # an annex's title: 对照表 stays one word
    assert balanced_lines("2027年度信息系统数据对照表（数据日期11月30日）", 19) == [
        "2027年度信息系统数据", "对照表（数据日期11月30日）"]


def test_table_cells_keep_to_one_line(pdf):
    # Fixed column widths come from the cells' lengths: no township name or count may wrap.
    layout = _run("pdftotext", "-layout", str(pdf), "-")
    lines = [line.replace(" ", "") for line in layout.splitlines()]
    townships = [t["name"] for t in jiangmen_rows("streets.csv")]
    wrapped = [name for name in townships if not any(name in line for line in lines)]
    assert not wrapped, f"names split over lines: {wrapped[:5]}"


def test_column_widths_fit_the_widest_cell_and_add_up():
    table = Table(["排名", "单位", "任务数", "较上期（百分点）", "进度"],
                  [["1", "广东省江门监狱", "3,682,463", "+7.99", "绿"], ["2", "鹤山市", "1", "—", "红"]])
    widths = table.column_widths
    assert round(sum(widths), 6) == 100
    cells = [w / 100 * 36.8 - 0.6 for w in widths]  # room inside each cell, in 12 pt character cells
    assert cells[1] >= 7 and cells[2] >= 4.6, cells  # 广东省江门监狱; 3,682,463 is 7 digits and 2 commas
    assert cells[0] >= 2 and cells[4] >= 2, "两字表头 stay on one line"
    html = render_circular_html(sample_circular(attachments=[Attachment("表", table=table)]))
    assert "<colgroup>" + "".join(f'<col width="{w:.1f}%">' for w in widths) + "</colgroup>" in html


def test_numeric_columns_are_right_aligned_and_ranks_centred():
    table = Table(["排名", "县（市、区）", "已参保人数", "参保率"],
                  [["1", "台山市", "812,345", "93.21%"], ["2", "鹤山市", "—", "—"]])
    assert table.column_aligns == ["center", "left", "right", "right"]
    html = render_circular_html(sample_circular(attachments=[Attachment("表", table=table)]))
    assert '<td class="align-right">812,345</td>' in html
    assert "附件：表" in compact(re.sub(r"<[^>]+>", "", html))  # a lone attachment has no number


def test_user_text_is_escaped_and_the_page_keeps_a_strict_csp():
    html = render_circular_html(sample_circular(addressee='<img src="file:///etc/passwd">'))
    assert "<img" not in html and "&lt;img" in html
    assert "<style" not in html and "style=" not in html and "<script" not in html
    assert '<html lang="zh-CN">' in html
    assert '<link rel="stylesheet" href="static/circular.css">' in html


def test_fetcher_serves_only_static_files():
    project = Path(__file__).resolve().parent.parent
    assert static_file((project / "static" / "circular.css").as_uri()) is not None
    for url in ["file:///etc/passwd", (project / "static" / ".." / "app.py").as_uri(),
                "http://127.0.0.1:9/x.css", "https://example.com/x.png", "ftp://example.com/x"]:
        assert static_file(url) is None
        with pytest.raises(ValueError):
            StaticOnlyFetcher().fetch(url)


def test_pdf_refuses_local_files_named_in_html(caplog):
    html = '<html lang="zh-CN"><body><p>正文</p><img src="file:///etc/passwd"><img src="../app.py"></body></html>'
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        data = create_pdf(html)
    assert data.startswith(b"%PDF")
    refused = [r.getMessage() for r in caplog.records if "拒绝加载" in r.getMessage()]
    assert len(refused) == 2
