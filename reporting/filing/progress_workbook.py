"""The period's progress form (进度表) as an .xlsx workbook: writing the blank or filled form, reading it back."""
from __future__ import annotations

import datetime as dt
import io
import math
import re
import time
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from reporting.spreadsheets import MAX_UPLOAD_BYTES, TableError

#: a workbook may not inflate beyond this; checked on the zip directory before openpyxl parses anything
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
#: a parse that takes longer than this stops (a worker must not be held by one upload)
PARSE_SECONDS = 20
#: the shared strings openpyxl reads in full before the first row, per row allowed (names, codes as text)
SHARED_STRING_BYTES_PER_ROW = 1024

CODE_HEADER = "单位代码"
NAME_HEADER = "单位名称"
PARTS_HEADER = "其中："
RATE_HEADER = "居民医保参保率"
#: footer labels and the filer keys they fill (填表时间 is written, never read back)
FOOTER_FIELDS = {"name": "填表人", "phone": "联系电话", "head": "单位负责人"}

COUNT_FORMAT = "#,##0"
RATE_FORMAT = "0.00%"
HEADER_TOP, HEADER_BOTTOM = 3, 4
FIRST_DATA_ROW = 5

# Excel, WPS and LibreOffice start a formula with any of these once the cell is edited (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SUBTOTAL_ENDINGS = ("小计", "合计", "总计")
# A footer cell may hold several "label：value" pairs, as the seed's single footer line does.
_FOOTER_LABEL = re.compile(r"(填表人|联系电话|电话|单位负责人|负责人|填表时间|填报时间|填表日期)\s*[:：]?")
_FOOTER_KEYS = {"填表人": "name", "联系电话": "phone", "电话": "phone", "单位负责人": "head", "负责人": "head"}
# A row with a cell like this ends the table: "填表人：…", or "填表人" alone with its value in the next cell.
_TABLE_END = re.compile(r"^(填表人|联系电话|单位负责人|填表时间|填报时间|说明|备注|注)\s*([:：]|$)")
_SPACE = re.compile(r"\s+")
_PARTS_PREFIX = re.compile(r"^其中[:：]?")

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_COMPUTED_FILL = PatternFill("solid", fgColor="F2F2F2")
_SUBTOTAL_FILL = PatternFill("solid", fgColor="FFF2CC")
_CARRIED_FONT = Font(italic=True, color="8A94A6")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


@dataclass(frozen=True)
class Column:
    """One indicator of the form, in form order."""
    key: str
    label: str
    part_of: str | None = None


@dataclass
class FormRow:
    """One line of the form: a report-level unit, or a subtotal/total line (kind "subtotal"/"total", no code)."""
    code: str
    name: str
    values: dict[str, int | None]
    kind: str = "unit"
    #: keys whose value is carried from the unit's last submitted report (沿用上期), shown light
    carried: frozenset[str] = frozenset()


@dataclass
class ParsedForm:
    """What a filled form holds: its unit rows (Excel row number, code, raw cells by key) and the filer."""
    rows: list[tuple[int, str, dict[str, object]]] = field(default_factory=list)
    filer: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- writing

def write_progress_form(*, title: str, unit_name: str, as_of: dt.date, due: dt.date,
                        columns: list[Column], rows: list[FormRow],
                        rate_of: tuple[str, str] | None = ("enrolled", "should_enroll"),
                        filer: dict[str, str] | None = None,
                        filled_on: dt.date | None = None) -> bytes:
    """The form as .xlsx bytes, laid out like seed 002's 参保进度表.

    ``rate_of`` is (numerator key, denominator key) of the computed 参保率 column; None leaves it out.
    """
    layout = _layout(columns, rate_of)
    width = 2 + len(layout)
    last = get_column_letter(width)
    book = Workbook()
    sheet = book.active
    sheet.title = "进度表"

    sheet["A1"] = _safe_text(title)
    sheet["A1"].font = Font(bold=True, size=18)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.merge_cells(f"A1:{last}1")
    sheet.row_dimensions[1].height = 36

    thirds = _split(width, 3)
    texts = [f"填报单位（盖章）：{unit_name}", f"数据截至：{as_of.month}月{as_of.day}日", "单位：人、%"]
    for (start, end), text, align in zip(thirds, texts, ("left", "center", "right")):
        cell = sheet.cell(row=2, column=start, value=_safe_text(text))
        cell.alignment = Alignment(horizontal=align, vertical="center")
        if end > start:
            sheet.merge_cells(start_row=2, start_column=start, end_row=2, end_column=end)
    sheet.row_dimensions[2].height = 22

    _write_header(sheet, layout)
    last_row = _write_body(sheet, layout, rows, rate_of)
    _write_footer(sheet, width, last_row + 2, filer or {}, filled_on, due, rate_of, columns)

    _size_columns(sheet, layout, rows)
    sheet.freeze_panes = sheet.cell(row=FIRST_DATA_ROW, column=3)
    sheet.print_title_rows = f"{HEADER_TOP}:{HEADER_BOTTOM}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _layout(columns: list[Column], rate_of: tuple[str, str] | None) -> list[Column | None]:
    """The form's columns after 单位名称, with None where the computed rate goes."""
    keys = [c.key for c in columns]
    if len(set(keys)) != len(keys):
        raise ValueError("进度表的指标代码重复")
    layout: list[Column | None] = list(columns)
    if rate_of is None:
        return layout
    numerator, denominator = rate_of
    if numerator not in keys or denominator not in keys:
        raise ValueError(f"参保率所需的指标 {numerator}、{denominator} 不在进度表中")
    layout.insert(rate_column(columns, numerator), None)
    return layout


def rate_column(columns, numerator: str = "enrolled") -> int:
    """How many of the form's indicators (`columns`, in form order, each with key and part_of) come
    before the computed 参保率: it follows the numerator and the 其中 parts under it, as in seed 002.
    The grid and the workbook both place it here. Without the numerator, it comes last."""
    keys = [c.key for c in columns]
    if numerator not in keys:
        return len(keys)
    at = keys.index(numerator) + 1
    while at < len(columns) and columns[at].part_of is not None:
        at += 1
    return at


def _part_groups(layout: list[Column | None]) -> list[tuple[int, int]]:
    """(first, last) sheet columns of each run of consecutive 其中 parts."""
    groups, start = [], None
    for n, column in enumerate(layout + [None], start=3):
        is_part = column is not None and column.part_of is not None
        if is_part and start is None:
            start = n
        elif not is_part and start is not None:
            groups.append((start, n - 1))
            start = None
    return groups


def _write_header(sheet, layout: list[Column | None]) -> None:
    in_group = set()
    for first, last in _part_groups(layout):
        sheet.cell(row=HEADER_TOP, column=first, value=PARTS_HEADER)
        if last > first:
            sheet.merge_cells(start_row=HEADER_TOP, start_column=first, end_row=HEADER_TOP, end_column=last)
        in_group.update(range(first, last + 1))
    labels = [CODE_HEADER, NAME_HEADER] + [RATE_HEADER if c is None else c.label for c in layout]
    for n, label in enumerate(labels, start=1):
        if n in in_group:
            sheet.cell(row=HEADER_BOTTOM, column=n, value=_safe_text(label))
        else:
            sheet.cell(row=HEADER_TOP, column=n, value=_safe_text(label))
            sheet.merge_cells(start_row=HEADER_TOP, start_column=n, end_row=HEADER_BOTTOM, end_column=n)
    for row in (HEADER_TOP, HEADER_BOTTOM):
        for n in range(1, len(labels) + 1):
            cell = sheet.cell(row=row, column=n)
            cell.font = Font(bold=True)
            cell.alignment = _CENTER
            cell.border = _BORDER
            cell.fill = _HEADER_FILL
    if None in layout:
        rate_cell = sheet.cell(row=HEADER_TOP, column=3 + layout.index(None))
        rate_cell.comment = Comment("由系统计算，仅供参考；上传时不读取此列。", "系统")
    sheet.row_dimensions[HEADER_TOP].height = 22
    sheet.row_dimensions[HEADER_BOTTOM].height = 58


def _body_styles(book) -> dict[tuple[str, bool], str]:
    """Named styles for body cells by (what, is a subtotal line); one lookup per cell keeps big forms fast."""
    names = {}
    for what, number_format in (("code", "@"), ("name", "General"), ("count", COUNT_FORMAT), ("rate", RATE_FORMAT)):
        for summary in (False, True):
            name = f"进度表-{what}{'-小计' if summary else ''}"
            fill = _COMPUTED_FILL if what == "rate" else (_SUBTOTAL_FILL if summary else PatternFill())
            book.add_named_style(NamedStyle(name=name, number_format=number_format, border=_BORDER, fill=fill,
                                            font=Font(bold=summary)))
            names[what, summary] = name
    book.add_named_style(NamedStyle(name="进度表-沿用上期", number_format=COUNT_FORMAT, border=_BORDER,
                                    font=_CARRIED_FONT))
    names["carried", False] = "进度表-沿用上期"
    return names


def _write_body(sheet, layout: list[Column | None], rows: list[FormRow], rate_of: tuple[str, str] | None) -> int:
    """Write the unit, subtotal and total lines; return the last row written."""
    styles = _body_styles(sheet.parent)
    numerator, denominator = rate_of or (None, None)
    row_number = FIRST_DATA_ROW - 1
    for row_number, form_row in enumerate(rows, start=FIRST_DATA_ROW):
        summary = form_row.kind != "unit"
        # a 12-digit code stays text in the "@" style, not 4.40705E+11
        code = sheet.cell(row=row_number, column=1, value=None if summary else _safe_text(form_row.code))
        code.style = styles["code", summary]
        sheet.cell(row=row_number, column=2, value=_safe_text(form_row.name)).style = styles["name", summary]
        for n, column in enumerate(layout, start=3):
            if column is None:
                value, what = _rate(form_row.values, numerator, denominator), "rate"
            else:
                value = form_row.values.get(column.key)
                what = "carried" if column.key in form_row.carried else "count"
            sheet.cell(row=row_number, column=n, value=value).style = styles[what, summary]
    if rows:
        # Excel and WPS then refuse a typed negative or fractional count; pasted values still reach validation.
        check = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                               showErrorMessage=True, errorTitle="人数有误", error="人数应为不小于0的整数")
        for n, column in enumerate(layout, start=3):
            if column is not None:
                letter = get_column_letter(n)
                check.add(f"{letter}{FIRST_DATA_ROW}:{letter}{row_number}")
        sheet.add_data_validation(check)
    return row_number


def _rate(values: dict[str, int | None], numerator: str | None, denominator: str | None) -> float | None:
    top, bottom = values.get(numerator), values.get(denominator)
    if top is None or not bottom:
        return None
    return top / bottom


def _write_footer(sheet, width: int, at: int, filer: dict[str, str], filled_on: dt.date | None,
                  due: dt.date, rate_of, columns: list[Column]) -> None:
    when = f"{filled_on.year}年{filled_on.month}月{filled_on.day}日" if filled_on else ""
    texts = [f"填表人：{filer.get('name') or ''}", f"联系电话：{filer.get('phone') or ''}",
             f"单位负责人：{filer.get('head') or ''}", f"填表时间：{when}"]
    for (start, end), text in zip(_split(width, 4), texts):
        sheet.cell(row=at, column=start, value=_safe_text(text))
        if end > start:
            sheet.merge_cells(start_row=at, start_column=start, end_row=at, end_column=end)
    notes = [f"说明：1. 请于{due.year}年{due.month}月{due.day}日前报送；单位代码请勿修改，一个单位一行。"]
    if rate_of is not None:
        labels = {c.key: c.label for c in columns}
        notes.append(f"      2. {RATE_HEADER}（灰色列）由系统按“{labels[rate_of[0]]}÷{labels[rate_of[1]]}”计算，"
                     "仅供参考，上传时不读取；小计、合计行也不读取。")
    notes.append(f"      {len(notes) + 1}. 浅灰色斜体数字沿用上期（上次提交的数据），如有变化请直接改写。")
    for n, note in enumerate(notes, start=at + 2):
        cell = sheet.cell(row=n, column=1, value=note)
        cell.font = Font(size=9, color="595959")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.merge_cells(start_row=n, start_column=1, end_row=n, end_column=width)
        sheet.row_dimensions[n].height = 26


def _split(width: int, parts: int) -> list[tuple[int, int]]:
    """Split columns 1..width into ``parts`` runs, as even as possible."""
    bounds = [round(width * k / parts) for k in range(parts + 1)]
    return [(bounds[k] + 1, max(bounds[k + 1], bounds[k] + 1)) for k in range(parts)]


def _size_columns(sheet, layout: list[Column | None], rows: list[FormRow]) -> None:
    sheet.column_dimensions["A"].width = 15
    longest = max((_display_width(r.name) for r in rows), default=0)
    sheet.column_dimensions["B"].width = min(max(longest + 2, 16), 40)
    for n, column in enumerate(layout, start=3):
        # Headers wrap; the width fits a 10-digit count with separators and a six-character line of label.
        sheet.column_dimensions[get_column_letter(n)].width = 10 if column is None else 13


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _safe_text(text: str) -> str:
    """User text fit for a cell: no control characters, and never read as a formula when edited."""
    text = ILLEGAL_CHARACTERS_RE.sub("", str(text))
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


# ---------------------------------------------------------------- reading

def read_progress_form(data: bytes, columns: list[Column], max_rows: int | None = None) -> ParsedForm:
    """The unit rows and the filer of a filled form, as saved by Excel, WPS or LibreOffice, or typed by hand.

    Values are the raw cells (int, float, str or None); checking them is the caller's job.
    Raises TableError, in Chinese, when the file cannot be read as a form, when its table has more
    than `max_rows` rows (read no further), or when reading it takes more than PARSE_SECONDS.
    """
    _check_container(data, max_rows)
    with warnings.catch_warnings():
        # WPS files make openpyxl warn about styles and extensions it skips; the values are still sound.
        warnings.simplefilter("ignore")
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds on a broken workbook
            raise TableError(f"无法读取 .xlsx 文件（{type(error).__name__}），请在 Excel 或 WPS 中打开后重新保存") from None
        try:
            for sheet in book.worksheets:
                if not hasattr(sheet, "reset_dimensions"):
                    continue  # a chart sheet
                # Some writers record a wrong used range; read every row instead of trusting it.
                sheet.reset_dimensions()
                rows = _bounded(_numbered(sheet.iter_rows(values_only=True)), max_rows)
                parsed = _read_sheet(rows, columns)
                if parsed is not None:
                    return parsed
        except TableError:
            raise
        except Exception as error:
            raise TableError(f"无法读取 .xlsx 文件（{type(error).__name__}），请在 Excel 或 WPS 中打开后重新保存") from None
        finally:
            book.close()
    raise TableError(f"找不到表头：表中没有“{CODE_HEADER}”这一格。请使用本系统下载的进度表，"
                     f"或在第一行写上“{CODE_HEADER}”和各指标名称")


def _check_container(data: bytes, max_rows: int | None = None) -> None:
    if len(data) > MAX_UPLOAD_BYTES:
        raise TableError(f"文件超过{MAX_UPLOAD_BYTES // 1024 // 1024}MB，请删去多余的工作表或行后再上传")
    if data[:8] == _OLE_MAGIC:
        raise TableError("这是旧版 .xls 文件或加密的工作簿，请在 Excel 或 WPS 中另存为不加密的 .xlsx 后再上传")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # Python's zipfile never inflates a member past its recorded size, so this sum bounds the work.
            inflated = sum(info.file_size for info in archive.infolist())
            strings = sum(i.file_size for i in archive.infolist() if i.filename.lower().endswith("sharedstrings.xml"))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise TableError("不是有效的 .xlsx 文件（文件已损坏，或是改了扩展名的其他文件，如 .xls、.csv）") from None
    if inflated > MAX_UNZIPPED_BYTES:
        raise TableError(f"文件解压后超过{MAX_UNZIPPED_BYTES // 1024 // 1024}MB，不像一张进度表，已拒绝读取")
    if max_rows is not None and strings > SHARED_STRING_BYTES_PER_ROW * max_rows + 2 ** 20:
        raise TableError(_too_many_rows(max_rows))


def _too_many_rows(max_rows: int) -> str:
    return (f"表中的行数超过{max_rows:,}行，比本表的单位多得多，已停止读取。"
            "请只保留本表各单位的行（可下载本系统的进度表填写）后再上传")


def _bounded(rows: Iterator[tuple[int, tuple]], max_rows: int | None) -> Iterator[tuple[int, tuple]]:
    """The rows, stopping with a TableError after `max_rows` rows that hold something, or when
    PARSE_SECONDS have passed: a file far larger than the form is refused before it is all read."""
    deadline = time.monotonic() + PARSE_SECONDS
    filled = 0
    for number, cells in rows:
        if number % 1000 == 0 and time.monotonic() > deadline:
            raise TableError(f"读取超过{PARSE_SECONDS}秒仍未结束，文件过大，已停止读取。请删去多余的行后再上传")
        if any(c is not None and c != "" for c in cells):
            filled += 1
            if max_rows is not None and filled > max_rows:
                raise TableError(_too_many_rows(max_rows))
        yield number, cells


def _numbered(rows: Iterable[tuple]) -> Iterator[tuple[int, tuple]]:
    # read-only sheets yield an empty tuple for each missing row, so counting gives Excel's row numbers
    return enumerate(rows, start=1)


def _read_sheet(rows: Iterator[tuple[int, tuple]], columns: list[Column]) -> ParsedForm | None:
    """Parse one sheet; None when it has no 单位代码 header."""
    for number, cells in rows:
        texts = [_header_text(c) for c in cells]
        if CODE_HEADER in texts:
            header_at, top = number, texts
            break
    else:
        return None
    code_at = top.index(CODE_HEADER)
    name_at = top.index(NAME_HEADER) if NAME_HEADER in top else None
    lookup = _header_lookup(columns)

    # The row under the header is its lower half when it names an indicator and holds no code.
    pending: tuple[int, tuple] | None = next(rows, None)
    bottom: list[str] = []
    if pending is not None:
        number, cells = pending
        texts = [_header_text(c) for c in cells]
        if not _cell_text(_at(cells, code_at)) and any(t in lookup for t in texts):
            bottom, pending = texts, None

    positions = _map_columns(top, bottom, lookup, columns, header_at)
    body = _chain(pending, rows)
    parsed = ParsedForm(filer={key: "" for key in FOOTER_FIELDS})
    seen: dict[str, int] = {}
    for number, cells in body:
        if any(_TABLE_END.match(_cell_text(c)) for c in cells):
            _read_footer(cells, parsed.filer)
            break
        code = _code_text(_at(cells, code_at))
        name = _cell_text(_at(cells, name_at)) if name_at is not None else ""
        if not code or code.endswith(_SUBTOTAL_ENDINGS) or name.endswith(_SUBTOTAL_ENDINGS):
            continue
        if code in seen:
            raise TableError(f"单位代码 {code} 重复出现：第{seen[code]}行和第{number}行，请删去其中一行")
        seen[code] = number
        parsed.rows.append((number, code, {key: _at(cells, at) for key, at in positions.items()}))
    for number, cells in body:
        _read_footer(cells, parsed.filer)
    return parsed


def _chain(first: tuple[int, tuple] | None, rest: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
    if first is not None:
        yield first
    yield from rest


def _header_lookup(columns: list[Column]) -> dict[str, str]:
    lookup = {}
    for column in columns:
        lookup[_squash(column.key).lower()] = column.key
        lookup[_squash(column.label)] = column.key
    return lookup


def _map_columns(top: list[str], bottom: list[str], lookup: dict[str, str],
                 columns: list[Column], header_at: int) -> dict[str, int]:
    """Sheet position of each indicator; a 其中 part may sit in either header row."""
    positions: dict[str, int] = {}
    for at in range(max(len(top), len(bottom))):
        for text in (_at(bottom, at), _at(top, at)):
            key = lookup.get(text) or lookup.get((text or "").lower())
            if key is None:
                continue
            if key in positions and positions[key] != at:
                label = next(c.label for c in columns if c.key == key)
                raise TableError(f"第{header_at}行表头中“{label}”出现了两次（第{positions[key] + 1}列和第{at + 1}列）")
            positions[key] = at
            break
    missing = [c.label for c in columns if c.key not in positions]
    if missing:
        raise TableError(f"表头缺少指标列：{'、'.join(missing)}。请使用本系统下载的进度表，不要删改表头")
    return positions


def _read_footer(cells: tuple, filer: dict[str, str]) -> None:
    """Fill blank filer fields from one footer row: "填表人：X" in one cell, or "填表人" then "X" in the next."""
    texts = [_value_text(c) for c in cells]
    for n, text in enumerate(texts):
        matches = list(_FOOTER_LABEL.finditer(text))
        for k, match in enumerate(matches):
            end = matches[k + 1].start() if k + 1 < len(matches) else len(text)
            value = text[match.end():end].strip(" \t\u3000:：")
            if not value and k + 1 == len(matches) and not text[match.end():].strip():
                following = next((t for t in texts[n + 1:] if t.strip()), "")
                if not _FOOTER_LABEL.search(following):
                    value = following.strip()
            key = _FOOTER_KEYS.get(match.group(1))
            if key and value and not filer.get(key):
                filer[key] = _unescape(value)


def _unescape(text: str) -> str:
    # undo _safe_text's apostrophe, so a name survives the round trip unchanged
    if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS):
        return text[1:]
    return text


def _at(cells, index: int | None):
    if index is None or index >= len(cells):
        return None
    return cells[index]


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def _header_text(cell) -> str:
    # "其中：困难群众应参保人数" in one cell names the same column as the bare label
    return _PARTS_PREFIX.sub("", _squash(_cell_text(cell)))


def _cell_text(cell) -> str:
    return cell.strip() if isinstance(cell, str) else ("" if cell is None else str(cell))


def _value_text(cell) -> str:
    # a phone typed into its own cell comes back as a number
    if isinstance(cell, float) and cell.is_integer() and not math.isinf(cell):
        return str(int(cell))
    return _cell_text(cell)


def _code_text(cell) -> str:
    """A unit code as text, whether the cell held text or Excel turned it into a number."""
    if isinstance(cell, float) and cell.is_integer() and not math.isinf(cell):
        return str(int(cell))
    text = _cell_text(cell)
    return text[1:] if text.startswith("'") else text
