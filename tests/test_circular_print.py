"""The demo's 通报 as the office prints them, measured from the PDF: margins, faces, annex rows,
pagination, unsplit dates and the title (GB/T 9704-2012 and CIRCULAR.md)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pymupdf
import pytest
from fontTools import subset
from fontTools.ttLib import TTFont

from reporting import fonts
from reporting.circulars import circulars
from reporting.circulars.document import Paragraph, Section, balanced_lines, render_circular_html
from reporting.extensions import db
from reporting.models import Campaign
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code
from tests.fixtures.circulars import sample_circular

MM = 72 / 25.4
CELL = 156 / 28  # a 3号 character cell, mm
#: the 仿宋 the body must be set in: FandolFang once `make fonts` has fetched it
BODY_FACE = "FandolFang" if (fonts.FALLBACK_FONTS_DIR / "FandolFang-Regular.otf").exists() else "Noto-Serif-CJK-SC"
KAI_FACE = "FandolKai" if (fonts.FALLBACK_FONTS_DIR / "FandolKai-Regular.otf").exists() else "Noto-Serif-CJK-SC"
DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日|\d{1,2}月\d{1,2}日|\d+\.\d+%")
LIGHT_CELLS = {"绿", "黄", "红"}
HEADING = re.compile(r"^[一二三四五六七八九十]+、|^（[一二三四五六七八九十]+）")


@dataclasses.dataclass
class Span:
    page: int  # from 1
    text: str
    font: str
    size: float
    x0: float  # mm from the page's left edge
    y0: float  # mm from the page's top edge
    x1: float
    y1: float


def spans(data: bytes) -> tuple[int, list[Span]]:
    """The page count and every non-blank text span, with its box in mm."""
    found = []
    with pymupdf.open(stream=data, filetype="pdf") as document:
        for number, page in enumerate(document, 1):
            for block in page.get_text("dict")["blocks"]:
                for line in block.get("lines", []):
                    for span in line["spans"]:
                        if span["text"].strip():
                            x0, y0, x1, y1 = (v / MM for v in span["bbox"])
                            found.append(Span(number, span["text"].strip(), span["font"], round(span["size"], 1),
                                              x0, y0, x1, y1))
        return document.page_count, found


def page_number(found: list[Span], page: int) -> Span | None:
    """The "— n —" below the type area (which ends 262 mm down), if the page has one."""
    return next((s for s in found if s.page == page and s.y0 > 262 and re.fullmatch(r"—\s*\d+\s*—", s.text)), None)


def render(runner, tmp_path: Path, region: str, period_id: int) -> bytes:
    """The circular as `flask circulars render` writes it."""
    out = tmp_path / f"{region}.pdf"
    result = runner.invoke(args=["circulars", "render", "--region", region, "--period", str(period_id),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


# --- the checks, each a fact from GB/T 9704 or CIRCULAR.md --------------------------------

def check_margins(count: int, found: list[Span]) -> None:
    """Text keeps to the 156 × 225 mm type area (天头 37, 订口 28); page numbers sit below it."""
    for s in found:
        if page_number(found, s.page) is s:
            continue
        assert 28 - 0.3 <= s.x0 and s.x1 <= 184 + 0.3, s
        assert 37 - 0.3 <= s.y0 and s.y1 <= 262 + 0.3, s
    body = [s for s in found if s.size == 16]
    assert abs(min(s.x0 for s in body) - 28) < 0.3  # the 主送机关, flush left
    assert abs(max(s.x1 for s in body) - 184) < 0.3  # a justified line, flush right
    assert all(page_number(found, p) is not None for p in range(1, count - 1)), "every page but the last two is numbered"


def check_faces(found: list[Span]) -> None:
    first = [s for s in found if s.page == 1]
    issuer = first[0]
    assert issuer.size == 36 and re.search(r"Bold|Black|XiaoBiaoSong|小标宋", issuer.font), issuer
    title = next(s for s in first if s.size == 22)
    assert re.search(r"Bold|Black|XiaoBiaoSong|小标宋", title.font), title
    body = [s for s in found if s.size == 16 and s.page <= 2 and len(s.text) > 8 and not HEADING.match(s.text)]
    assert body and all(BODY_FACE in s.font for s in body), {s.font for s in body}
    kai = [s for s in found if s.size == 16 and HEADING.match(s.text) and s.text.startswith("（")]
    assert kai and all(KAI_FACE in s.font for s in kai), {s.font for s in kai}
    hei = [s for s in found if s.size == 16 and HEADING.match(s.text) and not s.text.startswith("（")]
    assert hei and all("Sans" in s.font or "Hei" in s.font for s in hei), {s.font for s in hei}


def check_signature(found: list[Span], issuer: str) -> None:
    """The 署名 two cells from the right, the date two cells right of its start, and at least
    two lines of the text above them on their page."""
    signer = next(s for s in found if s.text == issuer and s.size == 16)
    date = next(s for s in found if s.page == signer.page and s.y0 > signer.y0 and s.size == 16)
    assert abs(signer.x1 - (184 - 2 * CELL)) < 0.5, signer
    assert abs(date.x0 - signer.x0 - 2 * CELL) < 0.5, (signer, date)
    lines_above = {round(s.y0) for s in found if s.page == signer.page and s.size == 16 and s.y1 < signer.y0}
    assert len(lines_above) >= 2, f"page {signer.page} holds the signature and {len(lines_above)} line(s)"


def check_imprint(count: int, found: list[Span]) -> None:
    """The 版记 ends the document on an even page; a 版记 page standing alone, and a blank
    page before it, carry no number."""
    assert count % 2 == 0
    last = [s for s in found if s.page == count]
    assert any(s.text.endswith("印发") for s in last)
    alone = all(s.size == 14 and s.y0 > 240 for s in last)  # the 版记's 4号 lines only
    if alone:
        assert page_number(found, count) is None
        if not [s for s in found if s.page == count - 1]:
            assert page_number(found, count - 1) is None


def check_dates_whole(found: list[Span]) -> None:
    """No date or percentage breaks across lines in the body, the titles or the 附件说明."""
    lines = [s for s in found if s.size >= 15 and page_number(found, s.page) is not s]
    joined, boundaries, at = "", set(), 0
    for s in lines:
        joined += s.text
        at += len(s.text)
        boundaries.add(at)
    for match in DATE.finditer(joined):
        split = [b for b in boundaries if match.start() < b < match.end()]
        assert not split, f"{match.group()} split: {joined[max(0, match.start() - 20):match.end() + 5]}"


#: annex tables in 小四, a long list of units in 五号
TABLE_SIZES = (12, 10.5)


def annex_pages(found: list[Span], heading: str) -> dict[int, int]:
    """Rows on each page of the annex table whose header holds `heading` (one light a row)."""
    pages = sorted({s.page for s in found if s.size in TABLE_SIZES and s.text.startswith(heading)})
    return {p: sum(1 for s in found if s.page == p and s.size in TABLE_SIZES and s.text in LIGHT_CELLS)
            for p in pages}


def check_no_short_cell_wraps(found: list[Span]) -> None:
    cells = [s.text for s in found if s.size in TABLE_SIZES]
    assert not {"按", "时", "迟", "排", "名", "进", "度"} & set(cells), "a short cell or heading broke a character a line"


# --- the demo's circulars ------------------------------------------------------------------

def test_city_circular_prints_to_the_standard(demo, runner, tmp_path):
    period = next(p for p in demo.periods if p.seq == 4)
    count, found = spans(render(runner, tmp_path, "4407", period.id))
    check_margins(count, found)
    check_faces(found)
    check_signature(found, "江门市医疗保障局")
    check_imprint(count, found)
    check_dates_whole(found)
    check_no_short_cell_wraps(found)
    title = "".join(s.text for s in found if s.page == 1 and s.size == 22)
    assert title.endswith("的通报（截至2026年11月14日）") and "第1期" not in title
    townships = annex_pages(found, "镇（街）")
    assert sum(townships.values()) == 82
    assert all(rows >= 25 for rows in list(townships.values())[:-1]), townships


def test_county_annex_of_242_villages_fits_ten_pages(demo, runner, tmp_path):
    period = next(p for p in demo.periods if p.seq == 5)
    county = region_by_code("440705")
    count, found = spans(render(runner, tmp_path, county.code, period.id))
    village_pages = annex_pages(found, "村（社区）")
    assert sum(village_pages.values()) == county.villages == 242
    assert count <= 10 and len(village_pages) <= 6, (count, village_pages)
    assert all(rows >= 25 for rows in list(village_pages.values())[:-1]), village_pages
    check_margins(count, found)
    check_faces(found)
    check_signature(found, "新会区医疗保障局")
    check_imprint(count, found)
    check_dates_whole(found)
    check_no_short_cell_wraps(found)


def test_enping_in_the_current_period_fits_ten_pages(demo, runner, tmp_path):
    """The period not yet due: 待报 units carry 第4期's figures, marked, and no row wraps."""
    period = next(p for p in demo.periods if p.seq == 5)
    count, found = spans(render(runner, tmp_path, "440785", period.id))
    village_pages = annex_pages(found, "村（社区）")
    assert sum(village_pages.values()) == 176 and count <= 10, (count, village_pages)
    assert all(rows >= 25 for rows in list(village_pages.values())[:-1]), village_pages
    check_margins(count, found)
    check_no_short_cell_wraps(found)


def enclosure_numbers(found: list[Span]) -> list[int]:
    """The numbers of the 附件说明's lines (1．, 2．…); [1] for a lone 附件：title."""
    lines = [s.text.removeprefix("附件：") for s in found if s.size == 16 and s.y0 > 40]
    numbers = [int(m.group(1)) for line in lines if (m := re.match(r"(\d+)．", line))]
    return numbers or [1 for s in found if s.size == 16 and s.text.startswith("附件：")]


def annex_labels(found: list[Span]) -> list[str]:
    """附件1, 附件2…, each at the head of the page its annex starts on."""
    return [s.text for s in found if s.size == 16 and s.y0 < 40 and re.fullmatch(r"附件\d*", s.text)]


def chart_pages(found: list[Span]) -> set[int]:
    """Pages showing the progress chart (its SVG title: 江门市累计参保人数与完成率)."""
    return {s.page for s in found if "累计参保人数与" in s.text}


def period_of(campaign, seq: int):
    return next(p for p in campaign.periods if p.seq == seq)


def test_a_county_circular_over_ten_pages_leaves_its_charts_out(demo_december, runner, tmp_path):
    """新会区 on 第5期 with the 信息系统 figures: four annexes would take 12 pages (the short annexes
    cannot share one), so the circular prints without its charts, in 10, and says so in 附件说明."""
    county = region_by_code("440705")
    period = period_of(demo_december, 5)
    assert circulars.system_table(progress(period, county)) is not None, "the system figures are in"
    count, found = spans(render(runner, tmp_path, county.code, period.id))
    assert count <= circulars.MAX_PAGES, count
    assert not chart_pages(found)
    assert enclosure_numbers(found) == [1, 2, 3]
    assert annex_labels(found) == ["附件1", "附件2", "附件3"]
    assert any(s.text.startswith("3．") and "信息系统数据对照表" in s.text for s in found)
    village_pages = annex_pages(found, "村（社区）")
    assert sum(village_pages.values()) == county.villages == 242
    assert all(rows >= 25 for rows in list(village_pages.values())[:-1]), village_pages
    check_margins(count, found)
    check_signature(found, "新会区医疗保障局")
    check_imprint(count, found)
    check_no_short_cell_wraps(found)


def test_a_city_circular_that_fits_keeps_its_charts(demo_december, runner, tmp_path):
    count, found = spans(render(runner, tmp_path, "4407", period_of(demo_december, 5).id))
    assert count <= circulars.MAX_PAGES, count
    assert enclosure_numbers(found) == [1, 2, 3, 4]
    assert any(s.text.startswith("4．") and "累计参保进度" in s.text for s in found)
    assert annex_labels(found)[-1] == "附件4" and chart_pages(found)
    check_imprint(count, found)


@pytest.mark.parametrize("code, seq", [("440785", 5), ("440785", 6), ("440705", 6)])
def test_county_circulars_of_the_demo_keep_to_ten_pages(demo_december, runner, tmp_path, code, seq):
    count, found = spans(render(runner, tmp_path, code, period_of(demo_december, seq).id))
    assert count <= circulars.MAX_PAGES, count
    assert len(annex_labels(found)) == len(enclosure_numbers(found))
    check_imprint(count, found)


def test_issue_line_is_a_campaign_setting(demo, runner):
    assert demo.circular_issue_line is False
    result = runner.invoke(args=["campaign", "issue-line", str(demo.id), "on"])
    assert result.exit_code == 0, result.output
    campaign = db.session.get(Campaign, demo.id)
    assert campaign.circular_issue_line is True
    period, city = campaign.periods[3], region_by_code("4407")
    doc = circulars.build_document(period, city, title=circulars.default_title(campaign), body="正文",
                                   issue_no=3, doc_prefix="江医保", doc_year=2026, doc_seq=41,
                                   date=dt.date(2026, 11, 15))
    assert doc.issue_line == "第3期"
    assert doc.full_title.endswith("（截至2026年11月14日）")
    html = render_circular_html(doc)
    assert html.index('<p class="issue-line">第3期</p>') < html.index("江医保〔2026〕41号")


# --- the pagination rules on made-up circulars (no database) ------------------------------

def _render(doc) -> tuple[int, list[Span]]:
    return spans(circulars.render_pdf(doc))


@pytest.mark.parametrize("characters", [684, 698, 726])
def test_signature_never_stands_alone_and_the_imprint_ends_on_an_even_page(characters):
    # Bodies ending at the foot of page 2: without keeping the signature with the text, each of
    # these left page 3 holding the signature alone.
    doc = sample_circular(sections=[Section("一、网格", ["丁" * characters])], attachments=[])
    count, found = _render(doc)
    check_signature(found, "江门市医疗保障局")
    check_imprint(count, found)


def test_an_odd_last_page_sends_the_imprint_to_an_unnumbered_even_page():
    doc = sample_circular(attachments=sample_circular().attachments[:1])  # body and one short table
    count, found = _render(doc)
    assert count == 4, "the layout ends on page 3, with room for the 版记"
    assert page_number(found, 3) is not None and page_number(found, 4) is None
    assert not any(s.text.endswith("印发") for s in found if s.page == 3)
    check_imprint(count, found)


@pytest.mark.parametrize("attachments", [0, 1, 3])
@pytest.mark.parametrize("characters", [40, 726])
def test_the_closed_page_count_is_known_from_the_layout(characters, attachments):
    """closed_page_count tells, from the layout alone, the pages the PDF has once its 版记 closes it:
    bodies ending mid-page and at the foot of page 2, with no annex, a table and all three."""
    doc = sample_circular(sections=[Section("一、网格", ["丁" * characters])],
                          attachments=sample_circular().attachments[:attachments])
    printed = circulars.fitted(doc)
    count, found = spans(printed.pdf())
    assert printed.pages == count
    check_imprint(count, found)


def counting_layouts(monkeypatch) -> list[int]:
    """The number of annexes of each circular laid out from now on."""
    laid_out, counts = circulars._laid_out, []

    def counted(doc, html=None):
        counts.append(len(doc.attachments))
        return laid_out(doc, html)
    monkeypatch.setattr(circulars, "_laid_out", counted)
    return counts


def test_charts_are_left_out_only_of_a_circular_past_its_pages(monkeypatch):
    charts = sample_circular().attachments[2]
    doc = sample_circular(attachments=[*sample_circular().attachments, dataclasses.replace(charts, title="各县参保人数")])
    layouts = counting_layouts(monkeypatch)
    kept = circulars.fitted(doc)
    assert kept.doc is doc and layouts == [4], "a circular that fits is laid out once"
    monkeypatch.setattr(circulars, "MAX_PAGES", kept.pages - 1)
    layouts.clear()
    printed = circulars.fitted(doc)
    assert layouts == [4, 2] and printed.pages < kept.pages
    assert [a.title for a in printed.doc.attachments] == [a.title for a in doc.attachments[:2]]
    assert [title for _, title in printed.doc.enclosures] == [a.title for a in doc.attachments[:2]]
    assert "<svg" not in printed.html and "附件2" in printed.html and "附件3" not in printed.html
    count, found = spans(printed.pdf())
    assert count == printed.pages and enclosure_numbers(found) == [1, 2]


def test_charts_stay_when_leaving_them_out_saves_no_page(monkeypatch):
    doc = sample_circular()  # the charts' page and the 版记's blank page are one
    layouts = counting_layouts(monkeypatch)
    monkeypatch.setattr(circulars, "MAX_PAGES", 1)
    printed = circulars.fitted(doc)
    assert layouts == [3, 2] and printed.doc is doc and "<svg" in printed.html


def test_the_print_view_lays_a_circular_out_once_per_content(monkeypatch):
    """The draft's preview reloads after each edit: the same HTML is fitted once per worker; a
    circular without charts has nothing to leave out and is not laid out at all."""
    monkeypatch.setattr(circulars, "_PRINTED", {})
    layouts = counting_layouts(monkeypatch)
    doc = sample_circular()
    monkeypatch.setattr(circulars, "MAX_PAGES", 1)
    first = circulars.print_html(doc)
    assert circulars.print_html(doc) == first and layouts == [3, 2]
    edited = sample_circular(sections=[Section("一、网格", ["改" * 40])])
    assert circulars.print_html(edited) != first and layouts == [3, 2, 3, 2]
    layouts.clear()
    bare = sample_circular(attachments=sample_circular().attachments[:1])
    assert "<svg" not in circulars.print_html(bare) and layouts == []


def test_a_name_outside_gb2312_falls_back_per_glyph():
    count, found = _render(sample_circular(attachments=[]))
    rare = next(s for s in found if s.text == "埇")
    assert "Noto-Serif-CJK-SC" in rare.font  # FandolFang covers GB2312 only
    middle = (rare.y0 + rare.y1) / 2  # the faces' boxes differ in height; their middles agree
    neighbours = [s for s in found if s.page == rare.page and s.y0 < middle < s.y1 and s is not rare]
    assert neighbours and all(BODY_FACE in s.font for s in neighbours)


def test_dates_numbers_and_heading_terms_stay_whole():
    doc = sample_circular(sections=[Section("", [Paragraph("各地" * 12 + "截至2022年11月14日，参保率为93.21%。" * 3)])],
                          attachments=[])
    count, found = _render(doc)
    check_dates_whole(found)
    for title in ("2023年度各村（社区）参保进度表（截至11月14日）",
                  "关于2023年度城乡居民基本医疗保险参保缴费工作进展情况的通报（截至2022年11月14日）"):
        lines = balanced_lines(title, 19)
        assert "".join(lines) == title and not any(line.endswith(("11", "11月", "11月14")) for line in lines)


def test_a_bureaus_own_fonts_in_fonts_dir_win(tmp_path, monkeypatch):
    # A stand-in for the bureau's licensed 仿宋_GB2312: a few glyphs of a free face, renamed.
    source = fonts.FALLBACK_FONTS_DIR / "FandolKai-Regular.otf"
    if not source.exists():
        pytest.fail("通报字体未就绪：请先执行 make fonts（make test 会自动执行）")
    options = subset.Options()
    options.name_IDs, options.name_languages = ["*"], ["*"]
    with TTFont(source) as face:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="截至年月日全市已参保缴费人完成目标任务的较上期提高个百分点")
        subsetter.subset(face)
        for record in face["name"].names:
            if record.nameID in (1, 4, 16):
                record.string = "仿宋_GB2312"
            elif record.nameID == 6:
                record.string = "FangSong_GB2312"
        face.save(tmp_path / "FangSong_GB2312.otf")
    monkeypatch.setattr(fonts, "_bureau_fonts_dir", None)
    fonts.use_fonts_dir(tmp_path)
    assert fonts.font_dirs() == [tmp_path, fonts.FALLBACK_FONTS_DIR]
    count, found = _render(sample_circular(attachments=[]))
    sentence = [s for s in found if s.page == 1 and s.size == 16 and s.y0 > 150]
    assert any(s.font.endswith("_GB2312") for s in sentence), {s.font for s in sentence}
    # characters the stand-in lacks still come from the fallback, glyph by glyph
    assert any(BODY_FACE in s.font for s in sentence)


def test_a_line_is_never_letter_spaced_beyond_about_a_sixth_of_a_character():
    """A line whose number moved to the next line is left ragged when filling it would widen each
    character by more than about 0.15 em (the room of five characters over 23); the room of three
    over 25 is still shared out, flush right."""
    def second_line(characters: int) -> Span:
        body = "丁" * 26 + "丁" * characters + "，全市123,456人。"
        count, found = _render(sample_circular(sections=[Section("一、网格", [body])], attachments=[]))
        return [s for s in found if "丁" in s.text][1]
    ragged, justified = second_line(20), second_line(22)
    assert len(ragged.text) == 23 and ragged.x1 < 184 - 20  # 5.57 mm a character, not 6.8
    assert len(justified.text) == 25 and abs(justified.x1 - 184) < 1
