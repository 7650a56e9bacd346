"""Reading and writing the tables bureaus exchange: CSV and XLSX."""
from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from typing import Any

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _read_only_size(sheet) -> None:
    """ReadOnlyWorksheet's size from the sheet's <dimension>, which comes before <sheetData>.

    openpyxl looks for it with "end" events, and the end of <sheetData> comes after every row: a sheet
    without <dimension> (openpyxl's own write-only files, some exports) was parsed whole when the
    workbook opened, 8 s for 900,000 rows before the first row could be refused. Stop at the start.
    """
    from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
    from openpyxl.worksheet.dimensions import SheetDimension
    from openpyxl.xml.functions import iterparse
    source = sheet._get_source()
    try:
        for _event, element in iterparse(source, events=("start",)):
            if element.tag == DIMENSION_TAG:
                if element.get("ref"):
                    (sheet._min_column, sheet._min_row, sheet._max_column,
                     sheet._max_row) = SheetDimension.from_tree(element).boundaries
                return
            if element.tag == DATA_TAG:
                return
    finally:
        source.close()


def _open_sheets_lazily() -> None:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet
    ReadOnlyWorksheet._get_size = _read_only_size


_open_sheets_lazily()


class TableError(ValueError):
    """A file that is not a readable table; the message says why, in Chinese."""


def read_table(path_or_bytes, filename: str | None = None) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Read the first sheet of an .xlsx or a .csv: its header and its (line number, cells) rows.

    Blank rows are dropped. Cells are str, int, float or None.
    """
    name = filename or (path_or_bytes if isinstance(path_or_bytes, str) else "")
    data = path_or_bytes
    if isinstance(path_or_bytes, str):
        if not os.path.exists(path_or_bytes):
            raise TableError(f"文件不存在：{path_or_bytes}")
        if os.path.getsize(path_or_bytes) > MAX_UPLOAD_BYTES:
            raise TableError(f"文件超过{MAX_UPLOAD_BYTES // 1024 // 1024}MB，请拆分后再导入")
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    if len(data) > MAX_UPLOAD_BYTES:
        raise TableError(f"文件超过{MAX_UPLOAD_BYTES // 1024 // 1024}MB，请拆分后再导入")
    lower = name.lower()
    if lower.endswith(".xlsx") or data[:2] == b"PK":
        rows = _xlsx_rows(data)
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        rows = _csv_rows(data)
    else:
        raise TableError("只支持 .xlsx 或 .csv 文件")
    numbered = rows  # the blank rows already left out
    if not numbered:
        raise TableError("文件中没有数据")
    (_, header), body = numbered[0], numbered[1:]
    return [str(h).strip() if h is not None else "" for h in header], body


def _csv_rows(data: bytes):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("CSV 文件编码无法识别（应为 UTF-8 或 GBK）")
    # strict: a quote left open runs to the end of the file, swallowing the rows after it
    reader = csv.reader(io.StringIO(text), strict=True)
    strip = str.strip
    try:  # a row of blank cells is all empty strings once stripped
        return [(n, cells) for n, row in enumerate(reader, 1) if any(cells := list(map(strip, row)))]
    except csv.Error:
        raise TableError(f"CSV 文件第{reader.line_num}行格式错误：引号未配对，或引号后紧跟了其他字符") from None


def _xlsx_rows(data: bytes):
    from openpyxl import load_workbook
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise TableError("不是有效的 .xlsx 文件（文件已损坏，或是改了扩展名的其他文件）")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = []
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_clean(c) for c in row]
            if any(c not in (None, "") for c in cells):
                rows.append((n, cells))
        book.close()
        return rows
    except Exception as error:  # openpyxl raises many kinds on a broken workbook
        raise TableError(f"无法读取 .xlsx 文件：{type(error).__name__}") from None


def _clean(cell):
    return cell.strip() if isinstance(cell, str) else cell


def parse_count(cell) -> int | None:
    """A count of people from a cell: an integer, '12,345', or 12345.0; None for blank.

    Raises ValueError for anything else (text, fractions, negative numbers are left to the caller).
    """
    if cell is None or cell == "":
        return None
    if isinstance(cell, bool):
        raise ValueError(cell)
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        if cell.is_integer():
            return int(cell)
        raise ValueError(cell)
    from .validation import count_from_text
    text = str(cell).strip()
    count = count_from_text(text[:-2] if text.endswith(".0") else text)
    if count is None:
        raise ValueError(cell)
    return count


# --- writing ----------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """Text from users never starts a cell as a formula (=HYPERLINK… and the like), and holds no control
    character (openpyxl refuses them: a region name with one would fail the whole export)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    value = ILLEGAL_CHARACTERS_RE.sub("", value) if value else value
    return "'" + value if value and value.startswith(FORMULA_STARTS) else value


def file_name(text: str) -> str:
    """A download's name from user text: no control character (a newline breaks the header) nor slash."""
    return re.sub(r"[\x00-\x1f\x7f/\\]", "", text)


def _data_period(unit, period) -> str:
    """Whose figures a row holds on the one basis: this period's, 沿用第N期, or 未报 (counted zero)."""
    if unit.totals.reports:
        return f"第{period.seq}期" + ("（部分沿用）" if unit.carried else "")
    if unit.carried_from is not None:
        return f"沿用第{unit.carried_from.seq}期"
    return "未报"


def _departments_sheet(sheet, departments, lights) -> None:
    """部门报送情况: each department's own figures, never part of the ranking's totals."""
    from .filters import LATE_NAMES
    sheet.append(["部门", "报送数据", "任务数", "完成率", "参保率", "进度", "报送", "说明"])
    for d in departments:
        sheet.append([safe_text(d.department.name),
                      safe_text("；".join(f"{i.label}{d.totals.get(i.key, 0):,}" for i in d.department.indicators())),
                      d.task, d.completion, d.rate, lights[d.light], LATE_NAMES[d.late],
                      f"沿用第{d.carried_from.seq}期" if d.carried_from else ""])
    for row in sheet.iter_rows(min_row=2):
        row[3].number_format = row[4].number_format = "0.00%"
    sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 18, 60


def _system_day(result) -> str:
    day = result.system_at
    return f"（数据日期{day.month}月{day.day}日）" if day else ""


def _year_over_year(unit, measure: str) -> list:
    """较上年同期: the measure's change in points and the change in people enrolled, or 无上年同期数据."""
    if unit.last_year is None:
        return ["无上年同期数据", None]
    change = unit.yoy_change(measure)
    return [None if change is None else round(change * 100, 2), unit.yoy_enrolled]


def ranking_workbook(result, rows, departments=()) -> bytes:
    """A 排名表: the ranking of `rows` (UnitProgress, in the order shown) for one period, and the
    departments (DepartmentProgress) sitting at the region on a sheet of their own."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from .filters import LATE_NAMES
    from .ranking import LIGHTS
    period, region = result.period, result.region.region
    book = Workbook()
    sheet = book.active
    sheet.title = "排名表"
    headings = ["排名", "单位代码", "单位", "任务数", "应参保人数", "已参保人数", "参保率", "完成率",
                "较上期提高（百分点）", "序时进度", "进度", "报送", "困难群众未参保", "约谈", "数据异常",
                "数据期次", "预计期末完成率", "预计达标日期", "预计"]
    yoy = result.same_time is not None  # 较上年同期 only when last year's campaign exists
    if yoy:
        headings += ["较上年同期（百分点）", "已参保较上年同期增减"]
    # the information system's figures beside the typed ones, after the columns readers already know
    by_system = result.campaign.basis == "system"
    if result.has_system:
        headings += ["信息系统已参保人数", "填报与信息系统差额（填报−系统）", "信息系统核对"]
    if by_system:
        headings.append("数据来源")
    title = f"{result.campaign.name}{region.name}参保进度排名表"
    sheet.append([safe_text(title)])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headings))
    sheet["A1"].font = Font(size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([f"{period.label}　截至{period.as_of.year}年{period.as_of.month}月{period.as_of.day}日"
                  f"　序时进度 {result.time_progress:.2%}　单位：人、%"
                  + (f"　以信息系统数据为准{_system_day(result)}" if by_system else "")])
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(headings))
    sheet.append(headings)
    thin = Side(style="thin", color="999999")
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="EEF1F5")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)

    def line(rank, unit):
        return [rank, unit.region.code, safe_text(unit.region.name), unit.task,
                unit.totals.get("should_enroll"), unit.enrolled, unit.rate, unit.completion,
                None if unit.increase is None else round(unit.increase * 100, 2),
                result.time_progress, LIGHTS[unit.light], LATE_NAMES[unit.late], unit.hardship_gap,
                "约谈" if unit.interview else "约谈预警" if unit.warning else "", safe_text("；".join(unit.anomalies)),
                _data_period(unit, period), unit.forecast.projected, unit.forecast.reaches_on,
                "预计无法按期完成" if unit.forecast.misses else unit.forecast.reason,
                *(_year_over_year(unit, result.measure) if yoy else [])] + extra(unit)

    def extra(unit) -> list:
        cells = []
        if result.has_system:
            cells += [unit.system_enrolled, (unit.system_gap or {}).get("enrolled"), unit.system_flag]
        if by_system:
            cells.append("信息系统" if unit.source == "system" else "填报数")
        return cells
    for unit in rows:
        sheet.append(line(unit.rank, unit))
    sheet.append(line(None, result.region))
    sheet.cell(sheet.max_row, 3).value = "合计"
    for row in sheet.iter_rows(min_row=3, max_row=sheet.max_row):
        for cell in row:
            cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
    for row in sheet.iter_rows(min_row=4, max_row=sheet.max_row):
        for column in (3, 4, 5, 12):
            row[column].number_format = "#,##0"
        for column in (6, 7, 9):
            row[column].number_format = "0.00%"
        row[8].number_format = "0.00"
        row[1].number_format = "@"
        row[16].number_format = "0.00%"
        row[17].number_format = "yyyy-mm-dd"
        if result.has_system:
            row[19].number_format = row[20].number_format = "#,##0"
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    widths = [6, 14, 18, 11, 11, 11, 9, 9, 10, 9, 6, 8, 10, 8, 30, 10, 10, 12, 24] + ([12, 12] if yoy else []) \
        + [12, 14, 20, 10]
    if yoy:
        for row in sheet.iter_rows(min_row=4, max_row=sheet.max_row):
            row[19].number_format, row[20].number_format = "+0.00;-0.00;0.00", "+#,##0;-#,##0;0"
    for n, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    sheet.freeze_panes = "A4"
    sheet.print_title_rows = "3:3"
    if departments:
        _departments_sheet(book.create_sheet("部门报送情况"), departments, LIGHTS)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
