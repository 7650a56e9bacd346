"""The 通报 as plain data, and its rendering to print HTML (GB/T 9704-2012 layout)."""
from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from reporting.filters import cn_date

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
TEMPLATE = "circulars/document.html"
# Relative to the project directory, which is create_pdf's default base URL.
PDF_STYLESHEET = "static/circular.css"

# A 2号 (22 pt) title line holds 20 characters of the 156 mm type area; 19 leaves room for
# half-width digits measuring a little more than half a character.
TITLE_LINE_CELLS = 19
# Terms a title line must not split; CIRCULAR.md: "never splitting a word".
TITLE_TERMS = (
    "城乡居民", "基本医疗保险", "医疗保险", "医疗保障", "医保", "参保缴费", "参保登记", "参保进度",
    "集中征缴", "征缴", "缴费", "工作", "进展", "情况", "进度", "通报", "年度", "县（市、区）",
    "全市", "全省", "各地", "排名", "督导", "按时", "报送", "进度表", "批评", "方案", "通知",
    "信息系统", "数据", "对照表", "排名表", "情况表", "完成率",
)
_OPENING = "（〔《“‘([{"
_CLOSING = "）〕》”’、，。：；！？)]},.:;!?%"
_NUMERIC = re.compile(r"^[+\-−]?\d[\d,]*(\.\d+)?%?\**$")  # * marks a carried figure
_PLACEHOLDERS = {"", "—", "-", "／", "/"}
_ORDINAL_HEADINGS = {"序号", "排名", "名次"}
_CLINGING = "的省市县区镇乡村局"

# Dates, numbers with their units and percentages, and the numbers of documents and 督办 items
# (督办〔2026〕2号), which a line must never split (11月14日 whole).
WHOLE_TOKEN = re.compile(
    r"(?:督办)?〔\d{4}〕\d+号|\d{4}年(?:\d{1,2}月(?:\d{1,2}日)?)?|\d{1,2}月\d{1,2}日"
    r"|[+\-−]?\d[\d,]*(?:\.\d+)?(?:%|万人|人次|人|户|个|期|号|元|天|日|名|位)?\**")

# Annex tables are set in 小四 (12 pt): the 156 mm type area holds 36.8 cells a line, and each table
# cell's padding (1 mm a side) and rule take 0.6 of one (0.5, and room for rounding).
TABLE_LINE_CELLS = 36.8
TABLE_CELL_PADDING = 0.6
# A text cell may wrap, but not shorter than this: numbers, short words and names of up to eight
# characters (南联村, 会城街道) never.
TABLE_TEXT_MIN_CELLS = 8.0
# A long table (a county's villages) is set in 五号 (10.5 pt), which holds 42 cells a line and 44 rows
# a page, so that 240 villages take six pages rather than eight.
COMPACT_FROM_ROWS = 40
COMPACT_LINE_CELLS = TABLE_LINE_CELLS * 12 / 10.5
_NARROW_CELLS = {**dict.fromkeys("0123456789+-", 0.56), ",": 0.33, ".": 0.33, "%": 0.93, " ": 0.33}

Align = Literal["left", "center", "right"]


@dataclass(frozen=True)
class DocumentNumber:
    """发文字号: 机关代字, year and sequence, printed as 江医保〔2022〕41号."""

    prefix: str
    year: int
    sequence: int

    def __post_init__(self):
        if not 1000 <= self.year <= 9999:
            raise ValueError(f"发文字号的年份应为四位数：{self.year}")
        if self.sequence < 1:
            raise ValueError(f"发文字号的序号应为正整数：{self.sequence}")

    def __str__(self) -> str:
        # 六角括号 U+3014/U+3015; int formatting drops any leading zeros.
        return f"{self.prefix}\u3014{self.year}\u3015{self.sequence}号"


@dataclass
class Paragraph:
    """A body paragraph. `heading` is a level-2 heading (（一）…, 楷体): alone when `text`
    is empty, otherwise run in before the text, as in "（一）总体进展。截至…"."""

    text: str = ""
    heading: str = ""

    @classmethod
    def subheading(cls, heading: str) -> "Paragraph":
        return cls(heading=heading)


@dataclass
class Section:
    """A level-1 part of the body: its heading (一、总体进展, 黑体) and its paragraphs."""

    heading: str
    paragraphs: list[Paragraph | str] = field(default_factory=list)

    def __post_init__(self):
        # Plain strings are accepted for convenience and become plain paragraphs.
        self.paragraphs = [p if isinstance(p, Paragraph) else Paragraph(p) for p in self.paragraphs]


@dataclass
class Table:
    """A table attachment: a header row and body rows of already formatted strings.

    `aligns` gives each column's alignment; without it, a 序号/排名 column is centred and
    a column whose cells all look like numbers (digits, 千分位 commas, a decimal part, %)
    is right-aligned.
    """

    header: list[str]
    rows: list[list[str]]
    aligns: Sequence[Align] | None = None
    #: lines printed under the table, e.g. what its marks mean (*沿用第5期数据)
    notes: list[str] = field(default_factory=list)

    @property
    def compact(self) -> bool:
        """Set in 五号 rather than 小四: a long list of units."""
        return len(self.rows) > COMPACT_FROM_ROWS

    @property
    def line_cells(self) -> float:
        return COMPACT_LINE_CELLS if self.compact else TABLE_LINE_CELLS

    def __post_init__(self):
        for row in self.rows:
            if len(row) != len(self.header):
                raise ValueError(f"表格行的列数（{len(row)}）与表头（{len(self.header)}）不一致：{row}")
        if self.aligns is not None and len(self.aligns) != len(self.header):
            raise ValueError("aligns 的列数与表头不一致")

    @property
    def column_aligns(self) -> list[Align]:
        if self.aligns is not None:
            return list(self.aligns)
        aligns: list[Align] = []
        for column, heading in enumerate(self.header):
            cells = [row[column].strip() for row in self.rows]
            values = [c for c in cells if c not in _PLACEHOLDERS]
            numeric = bool(values) and all(_NUMERIC.match(c) for c in values)
            if numeric and heading.strip() in _ORDINAL_HEADINGS:
                aligns.append("center")
            else:
                aligns.append("right" if numeric else "left")
        return aligns

    @property
    def aligned_rows(self) -> list[list[tuple[str, Align]]]:
        aligns = self.column_aligns
        return [list(zip(row, aligns)) for row in self.rows]

    @cached_property
    def column_widths(self) -> list[float]:
        """Each column's share of the table width, in percent to one decimal, summing to 100.

        Sized to content: a column first gets its narrowest acceptable width, where no number,
        date, percentage or short word (按时, 绿, a rank) wraps and its heading takes at most two
        lines; room left goes first to putting every cell on one line (a row of one line is what
        fits 25 rows on a page), then to putting headings on one line, in proportion to what
        each column lacks. Fixed widths also let the print layout skip measuring every cell
        twice (WeasyPrint's automatic table layout), a sixth of an 80-row annex's rendering time.
        """
        columns = range(len(self.header))
        headings = [_heading_cells(self.header[c], two_lines=True) for c in columns]
        # Three widths a column: its least; every cell on one line (the heading in two);
        # the heading on one line too.
        least = [max(headings[c], max((_least_cells(row[c]) for row in self.rows), default=1.0))
                 for c in columns]
        rows = [max(least[c], max((_table_cells(row[c]) for row in self.rows), default=1.0)) for c in columns]
        most = [max(rows[c], _table_cells(self.header[c])) for c in columns]
        room = self.line_cells - TABLE_CELL_PADDING * len(self.header)
        needs = least
        for lower, upper in ((rows, most), (least, rows)):
            if sum(lower) <= room:
                share = min(1.0, (room - sum(lower)) / max(sum(upper) - sum(lower), 1e-9))
                needs = [lo + (hi - lo) * share for lo, hi in zip(lower, upper)]
                break
        needs = [need + TABLE_CELL_PADDING for need in needs]
        # In tenths of a percent, the largest remainders rounded up, so that they add up to 100%.
        exact = [1000 * need / sum(needs) for need in needs]
        tenths = [int(share) for share in exact]
        by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - tenths[i], reverse=True)
        for i in by_remainder[:1000 - sum(tenths)]:
            tenths[i] += 1
        return [tenth / 10 for tenth in tenths]

    @property
    def header_lines(self) -> list[list[str]]:
        """Each heading as the lines it prints in: one if it fits its column, else two broken
        before a bracket (较上期 / （百分点）) or in the middle, never a character a line."""
        lines = []
        for heading, width in zip(self.header, self.column_widths):
            room = width / 100 * self.line_cells - TABLE_CELL_PADDING
            lines.append([heading] if _table_cells(heading) <= room + 0.01 else _two_lines(heading))
        return lines


def _two_lines(heading: str) -> list[str]:
    """A heading in two lines of two characters or more: before a bracket (较上期 / （百分点）),
    else in the middle (已参保 / 人数); one line when no such split exists (县（市、区）)."""
    bracket = heading.find("（")
    if bracket >= 0:
        return [heading[:bracket], heading[bracket:]] if bracket >= 2 else [heading]
    half = (len(heading) + 1) // 2
    return [heading[:half], heading[half:]] if len(heading) >= 4 else [heading]


def _heading_cells(heading: str, two_lines: bool = False) -> float:
    return max(_table_cells(part) for part in (_two_lines(heading) if two_lines else [heading]))


def _least_cells(text: str) -> float:
    """The narrowest a cell may be: numbers and pieces up to a comma whole, long names from
    TABLE_TEXT_MIN_CELLS on."""
    pieces = re.split(r"(?<=[，、；])", text.strip()) or [""]
    return max(_table_cells(p) if WHOLE_TOKEN.fullmatch(p) or _table_cells(p) <= TABLE_TEXT_MIN_CELLS
               else TABLE_TEXT_MIN_CELLS for p in pieces)


@dataclass
class Attachment:
    """附件: a title and either a table or an SVG chart (Markup from our own chart module).
    Its label (附件1, 附件2, or 附件 when alone) follows from its place in the circular."""

    title: str
    table: Table | None = None
    svg: Markup | None = None

    def __post_init__(self):
        if (self.table is None) == (self.svg is None):
            raise ValueError("附件应当有且只有一个表格或图表")
        if self.svg is not None and not isinstance(self.svg, Markup):
            # Only trusted markup from the chart module may go in unescaped.
            raise TypeError("svg 应为 markupsafe.Markup")


@dataclass
class Signature:
    """落款 of an unsealed circular: 发文机关署名 and 成文日期."""

    issuer: str
    date: dt.date

    @property
    def date_text(self) -> str:
        return cn_date(self.date)

    @property
    def date_longer(self) -> bool:
        """Whether the date is longer than the 署名, and so sets the signature's right indent."""
        return _cells(self.date_text) > _cells(self.issuer)


@dataclass
class Imprint:
    """版记: 抄送 (may be empty), 印发机关 and 印发日期."""

    printed_by: str
    printed_on: dt.date
    copy_to: str = ""

    @property
    def copy_to_line(self) -> str:
        if not self.copy_to:
            return ""
        text = self.copy_to.removeprefix("抄送：").rstrip("。；，")
        return f"抄送：{text}。"

    @property
    def printed_on_text(self) -> str:
        return f"{cn_date(self.printed_on)}印发"


@dataclass
class Circular:
    """One 通报, top to bottom: 红头, 期号 (if shown), 发文字号, title (with its 截至 date), 主送, body,
    附件说明, 落款, attachments, 版记."""

    issuer_mark: str
    number: DocumentNumber
    title: str
    addressee: str
    sections: list[Section]
    signature: Signature
    imprint: Imprint
    issue: int | None = None
    attachments: list[Attachment] = field(default_factory=list)
    #: 附件说明 lines; by default the attachments' titles, so the two cannot disagree.
    enclosure_titles: list[str] | None = None
    #: the data's 截至 date, which the title carries: （截至2026年11月30日）
    as_of: dt.date | None = None
    #: print the circular's own serial in a 期号 line (第3期) above the 发文字号, as the bureau chooses
    show_issue: bool = False

    @property
    def full_title(self) -> str:
        """The title with the data's 截至 date. The circular's serial stays out of it (it lives
        in the 发文字号 and the optional 期号 line), so that it cannot be read as 报送第N期."""
        if self.as_of is None or "截至" in self.title:
            return self.title
        return f"{self.title}（截至{cn_date(self.as_of)}）"

    @property
    def issue_line(self) -> str:
        return f"第{self.issue}期" if self.show_issue and self.issue is not None else ""

    @property
    def title_lines(self) -> list[str]:
        return balanced_lines(self.full_title, TITLE_LINE_CELLS)

    @property
    def number_text(self) -> str:
        return str(self.number)

    @property
    def issuer_size(self) -> str:
        """小初 while the mark fits the type area (12 characters), then smaller steps."""
        length = len(self.issuer_mark)
        return "large" if length <= 12 else "medium" if length <= 16 else "small"

    @property
    def addressee_line(self) -> str:
        return self.addressee.rstrip("：:") + "："

    @property
    def enclosures(self) -> list[tuple[str, str]]:
        """(number, title) pairs for 附件说明; a lone attachment has no number."""
        titles = self.enclosure_titles
        if titles is None:
            titles = [a.title for a in self.attachments]
        if len(titles) == 1:
            return [("", titles[0])]
        return [(f"{i}．", title) for i, title in enumerate(titles, 1)]

    @property
    def labelled_attachments(self) -> list[tuple[str, Attachment, list[str]]]:
        """(label, attachment, its title's balanced lines)."""
        count = len(self.attachments)
        labels = ["附件"] if count == 1 else [f"附件{i}" for i in range(1, count + 1)]
        return [(label, a, balanced_lines(a.title, TITLE_LINE_CELLS))
                for label, a in zip(labels, self.attachments)]


def keep_whole(text: str) -> Markup:
    """Escaped text with every date, number with its unit and percentage in an unbreakable span."""
    out, at = [], 0
    for match in WHOLE_TOKEN.finditer(text):
        if match.end() - match.start() < 2:
            continue
        out.append(escape(text[at:match.start()]))
        out.append(Markup('<span class="whole">%s</span>') % match.group())
        at = match.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


def _cells(text: str) -> float:
    """Width in character cells: ASCII is half a cell, everything else a full one."""
    return sum(0.5 if ord(ch) < 128 else 1.0 for ch in text)


def _table_cells(text: str) -> float:
    """Width in character cells of table text, after Noto Serif CJK's advances (the fallback for
    仿宋; the official fonts' half-width digits are a little narrower): digits 0.56 of a cell,
    separators a third, % nearly a whole one, other ASCII 0.6."""
    return sum(_NARROW_CELLS.get(ch, 0.6) if ord(ch) < 128 else 1.0 for ch in text)


def _break_positions(text: str) -> list[int]:
    """Indices where a title may break: not inside a term, a number or a bracketed group's
    edges, and never leaving punctuation at the start or an opening bracket at the end."""
    protected: set[int] = set()
    for term in TITLE_TERMS:
        for match in re.finditer(re.escape(term), text):
            protected.update(range(match.start() + 1, match.end()))
    for match in WHOLE_TOKEN.finditer(text):  # 2026年11月30日 stays on one line
        protected.update(range(match.start() + 1, match.end()))
    positions = []
    for i in range(1, len(text)):
        before, after = text[i - 1], text[i]
        if i in protected or after in _CLOSING or before in _OPENING:
            continue
        if before.isascii() and after.isascii() and before.isalnum() and after.isalnum():
            continue
        # 的 and an administrative suffix (江海|区, 江门|市) cling to what precedes them.
        if after in _CLINGING or (before == "第" and after.isdigit()):
            continue
        positions.append(i)
    # Keep "（截至2026年11月30日）" whole: no break inside the last bracketed group.
    group = re.search(r"（[^（）]*）$", text)
    if group:
        positions = [p for p in positions if not group.start() < p < group.end()]
    return positions


def balanced_lines(text: str, max_cells: float) -> list[str]:
    """Split a title into the fewest lines of at most `max_cells`, as even as possible
    (least sum of squared widths); ties go to shorter upper lines, the trapezoid of
    GB/T 9704 titles."""
    text = text.strip()
    if "\n" in text:  # the drafter's own breaks win
        return [line.strip() for line in text.splitlines() if line.strip()]
    if _cells(text) <= max_cells:
        return [text]
    cuts = [0, *_break_positions(text), len(text)]
    last = len(cuts) - 1
    # layers[k][j] = (cost, i): the best k lines ending at cuts[j], the previous one at cuts[i].
    layers: list[dict[int, tuple[float, int]]] = [{0: (0.0, 0)}]
    for count in range(1, len(cuts)):
        layer: dict[int, tuple[float, int]] = {}
        for j in range(1, len(cuts)):
            for i, (cost, _) in layers[-1].items():  # ascending i: longer lower lines win ties
                width = _cells(text[cuts[i]:cuts[j]]) if i < j else max_cells + 1
                if width <= max_cells and (j not in layer or cost + width**2 < layer[j][0]):
                    layer[j] = (cost + width**2, i)
        layers.append(layer)
        if last in layer:
            lines, j = [], last
            for k in range(count, 0, -1):
                i = layers[k][j][1]
                lines.append(text[cuts[i]:cuts[j]])
                j = i
            lines.reverse()
            return lines if count < 3 or _unimodal(lines) else _shaped_lines(text, cuts, count, max_cells) or lines
        if not layer:
            break
    return [text]  # no break fits: let the renderer wrap


def _unimodal(lines: list[str]) -> bool:
    """A trapezoid (either way up) or a diamond: no line shorter than one above and one below."""
    widths = [_cells(line) for line in lines]
    return not any(widths[k] < max(widths[:k]) and widths[k] < max(widths[k + 1:])
                   for k in range(1, len(widths) - 1))


def _shaped_lines(text: str, cuts: list[int], count: int, max_cells: float) -> list[str] | None:
    """The most even `count` lines that form a trapezoid or a diamond, not an hourglass."""
    best: tuple[float, list[str]] | None = None
    for inner in itertools.combinations(cuts[1:-1], count - 1):
        bounds = [0, *inner, len(text)]
        lines = [text[bounds[k]:bounds[k + 1]] for k in range(count)]
        if max(_cells(line) for line in lines) > max_cells or not _unimodal(lines):
            continue
        cost = sum(_cells(line) ** 2 for line in lines)
        if best is None or cost < best[0]:
            best = (cost, lines)
    return best[1] if best else None


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # A plain Environment, not Flask's: the CLI and background jobs render without an app.
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["whole"] = keep_whole
    return environment


IMPRINT_PAGE = '<div class="imprint-page">'
ARTICLE = '<article class="circular">'


def closing_html(html: str) -> str | None:
    """Two pages from a rendered circular, for create_pdf's `closing`: a blank page, then the
    版记 alone at the foot of an even page, neither numbered. None for HTML without a 版记."""
    if ARTICLE not in html or IMPRINT_PAGE not in html:
        return None
    head, imprint = html[:html.index(ARTICLE)], html[html.index(IMPRINT_PAGE) + len(IMPRINT_PAGE):]
    return (f'{head}{ARTICLE}<div class="imprint-blank"></div>'
            f'<div class="imprint-page imprint-turned">{imprint}')


def render_circular_html(doc: Circular, stylesheet_href: str = PDF_STYLESHEET) -> str:
    """The circular as one HTML page. The default stylesheet link suits create_pdf; a web
    view passes url_for('static', filename='circular.css') for the printable page."""
    template = _environment().get_template(TEMPLATE)
    return template.render(doc=doc, stylesheet_href=stylesheet_href)
