"""The rows of a table a user imports (a CSV or XLSX read by spreadsheets.read_table), mapped to
a form's indicators and filer fields, and the problems of those rows, each with its line."""
from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from typing import Any, Callable, Optional

from reporting.bulk import collector_paused
from reporting.models import Indicator


@dataclass(frozen=True)
class RowIssue:
    """A problem or warning of one row of a bulk import: where it is, and what."""
    line: Optional[int]
    code: str
    field: Optional[str]
    message: str

    def __str__(self) -> str:
        where = f"第{self.line}行" if self.line else ""
        code = f"（{self.code}）" if self.code and where else self.code
        return f"{where}{code}：{self.message}" if where or code else self.message


class ImportRejected(ValueError):
    """Some rows are wrong; nothing was written. `errors` lists RowIssues."""

    def __init__(self, errors: list):
        self.errors = errors
        more = f"（共{len(errors)}处错误）" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}" if errors else "导入失败")


FILER_HEADINGS = {"name": ("填表人",), "phone": ("联系电话",), "head": ("单位负责人",)}


def picker(items: list) -> Callable[[Any], tuple]:
    """A function taking these items (indexes or keys) out of a row, as a tuple even for one item."""
    pick = operator.itemgetter(*items)
    return pick if len(items) > 1 else (lambda row: (pick(row),))


@collector_paused()
def rows_from_table(indicators: list[Indicator], header: list[str], body: list[tuple[int, list]]):
    """Map a table's columns (单位代码, then indicators by key or Chinese name) to report rows."""
    squeeze = lambda text: str(text or "").replace(" ", "").replace("\n", "")  # noqa: E731
    heads = [squeeze(h) for h in header]
    if "单位代码" not in heads:
        raise ImportRejected([RowIssue(None, "", None,
                                       f"表头中没有“单位代码”列（表头为：{'、'.join(h for h in heads if h)}）")])
    code_at = heads.index("单位代码")
    columns = {}
    for i in indicators:
        for name in (i.key, squeeze(i.label)):
            if name in heads:
                columns[i.key] = heads.index(name)
                break
    if not columns:
        raise ImportRejected([RowIssue(None, "", None,
                                       "表头中没有任何指标列（应为指标代码或中文名称，如 enrolled 或 居民医保已参保人数）")])
    filer_columns = {key: heads.index(names[0]) for key, names in FILER_HEADINGS.items() if names[0] in heads}
    rows, errors = [], []
    width = max(at for at, h in enumerate(heads) if h) + 1
    # every named column lies within `width`, which each row is checked to reach: plain indexing
    keys, values_of = list(columns), picker(list(columns.values()))
    for line, cells in body:
        # a short row would blank the columns it lacks; a long one holds values that belong nowhere
        if len(cells) < width or any(c not in (None, "") for c in cells[width:]):
            errors.append(RowIssue(line, "", None, f"有{len(cells)}格，表头有{width}格："
                                                  "缺列或多列（或引号未配对），请核对后再导入"))
            continue
        code = cells[code_at]
        code = str(int(code)) if isinstance(code, (int, float)) and not isinstance(code, bool) else str(code or "").strip()
        filer = {key: str(cells[at] or "").strip() for key, at in filer_columns.items()}
        rows.append((line, code, dict(zip(keys, values_of(cells))), filer))
    if errors:
        raise ImportRejected(errors)
    return rows


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
