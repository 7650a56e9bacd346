"""The 通报 as plain data, and its rendering to print HTML (GB/T 9704-2012 layout)."""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from reporting.filters import cn_date

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
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
)
_OPENING = "（〔《“‘([{"
_CLOSING = "）〕》”’、，。：；！？)]},.:;!?%"
_NUMERIC = re.compile(r"^[+\-−]?\d[\d,]*(\.\d+)?%?$")
_PLACEHOLDERS = {"", "—", "-", "／", "/"}
_ORDINAL_HEADINGS = {"序号", "排名", "名次"}
_CLINGING = "的省市县区镇乡村局"

# Annex tables are set in 12 pt: the 156 mm type area holds 36.8 cells a line, and each table
# cell's padding and rules take 0.75 of one.
TABLE_LINE_CELLS = 36.8
TABLE_CELL_PADDING = 0.8
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

    @property
    def column_widths(self) -> list[float]:
        """Each column's share of the table width, in percent to one decimal, summing to 100.

        Every column first gets room for its widest cell; room left over goes to headings,
        so that a two-character one such as 进度 stays on one line and longer ones take at
        most two, and the rest is shared in proportion. Fixed widths let the print
        layout skip measuring every cell twice (WeasyPrint's automatic table layout), a sixth
        of an 80-row annex's rendering time.
        """
        needs = [max(max((_table_cells(row[column]) for row in self.rows), default=0.0), 1.0)
                 + TABLE_CELL_PADDING for column in range(len(self.header))]
        headings = [_table_cells(heading) for heading in self.header]
        # Spare room goes first to short headings (进度 on one line), then to the others' two lines.
        for wants in ([min(cells, 2.0) for cells in headings],
                      [math.ceil(cells / 2) for cells in headings]):
            short = [max(want + TABLE_CELL_PADDING - need, 0.0) for want, need in zip(wants, needs)]
            spare = TABLE_LINE_CELLS - sum(needs)
            if spare > 0 and sum(short):
                scale = min(1.0, spare / sum(short))
                needs = [need + gap * scale for need, gap in zip(needs, short)]
        # In tenths of a percent, the largest remainders rounded up, so that they add up to 100%.
        exact = [1000 * need / sum(needs) for need in needs]
        tenths = [int(share) for share in exact]
        by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - tenths[i], reverse=True)
        for i in by_remainder[:1000 - sum(tenths)]:
            tenths[i] += 1
        return [tenth / 10 for tenth in tenths]


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
    """One 通报, top to bottom: 红头, 发文字号, title (with 期号), 主送, body, 附件说明,
    落款, attachments, 版记."""

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

    @property
    def full_title(self) -> str:
        return self.title if self.issue is None else f"{self.title}（第{self.issue}期）"

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
    def labelled_attachments(self) -> list[tuple[str, Attachment]]:
        if len(self.attachments) == 1:
            return [("附件", self.attachments[0])]
        return [(f"附件{i}", a) for i, a in enumerate(self.attachments, 1)]


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
    # Keep "（第3期）" whole: no break inside the last bracketed group.
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
            return lines[::-1]
        if not layer:
            break
    return [text]  # no break fits: let the renderer wrap


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # A plain Environment, not Flask's: the CLI and background jobs render without an app.
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_circular_html(doc: Circular, stylesheet_href: str = PDF_STYLESHEET) -> str:
    """The circular as one HTML page. The default stylesheet link suits create_pdf; a web
    view passes url_for('static', filename='circular.css') for the printable page."""
    template = _environment().get_template(TEMPLATE)
    return template.render(doc=doc, stylesheet_href=stylesheet_href)
