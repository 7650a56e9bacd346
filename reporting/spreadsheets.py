"""Reading and writing the tables bureaus exchange: CSV and XLSX."""
from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from typing import Any

from reporting.validation import count_from_text

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
