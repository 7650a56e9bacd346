"""The 排名表 XLSX of a dashboard: the ranking of a period's units, and the departments' own sheet."""
from __future__ import annotations

import io

from reporting.filters import LATE_NAMES
from reporting.progress.ranking import LIGHTS
from reporting.spreadsheets import safe_text


def _data_period(unit, period) -> str:
    """Whose figures a row holds on the one basis: this period's, 沿用第N期, or 未报 (counted zero)."""
    if unit.totals.reports:
        return f"第{period.seq}期" + ("（部分沿用）" if unit.carried else "")
    if unit.carried_from is not None:
        return f"沿用第{unit.carried_from.seq}期"
    return "未报"


def _departments_sheet(sheet, departments, lights) -> None:
    """部门报送情况: each department's own figures, never part of the ranking's totals."""
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
