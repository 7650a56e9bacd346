"""The progress form's Excel round trip: what a county downloads, fills in Excel or WPS, and uploads."""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from reporting.filing import progress_workbook
from reporting.filing.progress_workbook import Column, FormRow, read_progress_form, write_progress_form
from reporting.indicators import DEFAULT_FORM
from reporting.spreadsheets import MAX_UPLOAD_BYTES, TableError

COLUMNS = [Column(key, label, part_of) for key, label, part_of in DEFAULT_FORM]
KEYS = [c.key for c in COLUMNS]
PARTS = ["困难群众应参保人数", "困难群众已参保人数", "中小学生及在园幼儿已参保人数", "新生儿已参保人数"]
FILER = {"name": "张三", "phone": "0750-6601234", "head": "李四"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def values(*counts):
    return dict(zip(KEYS, counts))


UNITS = [
    FormRow("440705001001", "朱集村委会", values(3200, 3000, 2854, 120, 118, 500, 30, 12)),
    FormRow("440705001002", "大泽村委会", values(5100, 4800, 4566, 200, None, 700, 41, 20)),
    FormRow("", "会城街道 小计", values(8300, 7800, 7420, 320, 118, 1200, 71, 32), kind="subtotal"),
    FormRow("440705002001", "埇桥村委会", values(10000, 10000, 9512, 50, 50, 900, 60, 5)),
    FormRow("", "合计", values(18300, 17800, 16932, 370, 168, 2100, 131, 37), kind="total"),
]


def form(rows=UNITS, filer=FILER, **overrides) -> bytes:
    kwargs = dict(title="2027年度江门市居民医保参保进度表", unit_name="新会区医疗保障局",
                  as_of=dt.date(2026, 11, 30), due=dt.date(2026, 12, 1), columns=COLUMNS, rows=rows,
                  filer=filer, filled_on=dt.date(2026, 11, 27))
    kwargs.update(overrides)
    return write_progress_form(**kwargs)


def sheet_of(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def xlsx(rows: list[list]) -> bytes:
    """A workbook typed by hand: the given rows from A1."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def unit_values(parsed):
    return {code: cells for _, code, cells in parsed.rows}


def test_round_trip_gives_back_every_unit_value_and_the_filer():
    parsed = read_progress_form(form(), COLUMNS)

    assert [(number, code) for number, code, _ in parsed.rows] == [
        (5, "440705001001"), (6, "440705001002"), (8, "440705002001")]
    for unit in (u for u in UNITS if u.kind == "unit"):
        assert unit_values(parsed)[unit.code] == unit.values
    assert parsed.filer == FILER


def test_a_blank_footer_reads_back_as_empty_strings():
    parsed = read_progress_form(form(filer=None, filled_on=None), COLUMNS)
    assert parsed.filer == {"name": "", "phone": "", "head": ""}


def test_layout_follows_the_seed_form():
    sheet = sheet_of(form())
    merged = {str(r) for r in sheet.merged_cells.ranges}

    assert sheet["A1"].value == "2027年度江门市居民医保参保进度表" and sheet["A1"].font.b
    assert "A1:K1" in merged
    assert sheet["A2"].value == "填报单位（盖章）：新会区医疗保障局"
    assert "数据截至：11月30日" in [c.value for c in sheet[2]]
    assert sheet["H2"].value == "单位：人、%" and sheet["H2"].alignment.horizontal == "right"
    # 单位代码, 单位名称 and every column outside 其中 span both header rows
    assert {"A3:A4", "B3:B4", "C3:C4", "D3:D4", "E3:E4", "J3:J4", "K3:K4"} <= merged
    assert [c.value for c in sheet[3]] == ["单位代码", "单位名称", "常住人口数", "居民医保应参保人数", "居民医保已参保人数",
                                          "其中：", None, None, None, "居民医保参保率", "大学生参保人数"]
    assert sheet.freeze_panes == "C5"
    # a code stays text so Excel shows all 12 digits; counts get 千分位 separators
    assert sheet["A5"].value == "440705001001" and sheet["A5"].data_type == "s"
    assert sheet["C5"].value == 3200 and sheet["C5"].number_format == "#,##0"
    assert sheet["G6"].value is None  # a blank count stays blank, not 0
    # subtotal and total lines are bold, with no code
    assert sheet["A7"].value is None and sheet["B7"].value == "会城街道 小计" and sheet["C7"].font.b
    assert sheet["B9"].value == "合计" and sheet["B9"].font.b
    footer = [c.value for c in sheet[11] if c.value]
    assert footer == ["填表人：张三", "联系电话：0750-6601234", "单位负责人：李四", "填表时间：2026年11月27日"]
    assert any("2026年12月1日前报送" in (c.value or "") for c in sheet["A"])
    assert sheet.column_dimensions["A"].width >= 14 and sheet.column_dimensions["B"].width >= 12


def test_the_parts_header_is_merged_over_exactly_the_four_parts():
    sheet = sheet_of(form())
    parts_ranges = [r for r in sheet.merged_cells.ranges if sheet.cell(r.min_row, r.min_col).value == "其中："]

    assert [str(r) for r in parts_ranges] == ["F3:I3"]
    assert [sheet.cell(4, n).value for n in range(6, 10)] == PARTS


def test_the_rate_column_shows_a_percentage_and_is_never_read():
    data = form()
    sheet = sheet_of(data)

    assert sheet["J3"].value == "居民医保参保率"
    assert sheet["J8"].value == pytest.approx(0.9512) and sheet["J8"].number_format == "0.00%"
    assert sheet["J6"].value == pytest.approx(4566 / 4800)

    sheet["J8"] = "abc"  # whatever a user types there is ignored
    out = io.BytesIO()
    sheet.parent.save(out)
    parsed = read_progress_form(out.getvalue(), COLUMNS)
    assert unit_values(parsed)["440705002001"] == UNITS[3].values
    assert all("rate" not in cells and len(cells) == len(COLUMNS) for _, _, cells in parsed.rows)


def test_without_parts_the_rate_follows_the_enrolled_column():
    columns = [Column("should_enroll", "应参保人数"), Column("enrolled", "已参保人数"), Column("task", "任务数")]
    rows = [FormRow("120101001", "劝业场街道", {"should_enroll": 100, "enrolled": 90, "task": 95})]
    data = write_progress_form(title="进度表", unit_name="和平区医保局", as_of=dt.date(2026, 10, 7),
                               due=dt.date(2026, 10, 8), columns=columns, rows=rows)
    sheet = sheet_of(data)

    assert [c.value for c in sheet[3]] == ["单位代码", "单位名称", "应参保人数", "已参保人数", "居民医保参保率", "任务数"]
    assert not any(sheet.cell(r.min_row, r.min_col).value == "其中：" for r in sheet.merged_cells.ranges)
    assert read_progress_form(data, columns).rows == [(5, "120101001", {"should_enroll": 100, "enrolled": 90, "task": 95})]


def test_a_file_resaved_by_another_program_reads_back_with_the_edit():
    # WPS or Excel rewrites the whole package; openpyxl in normal mode does the same
    book = load_workbook(io.BytesIO(form()))
    sheet = book.active
    sheet["E5"] = 2900
    sheet["G6"] = 190
    sheet["A11"] = "填表人：王五"
    out = io.BytesIO()
    book.save(out)

    parsed = read_progress_form(out.getvalue(), COLUMNS)
    assert unit_values(parsed)["440705001001"]["enrolled"] == 2900
    assert unit_values(parsed)["440705001002"]["hardship_enrolled"] == 190
    assert parsed.filer["name"] == "王五"


def test_a_hand_made_sheet_with_only_a_header_reads():
    header = ["单位 代码", "单位名称"] + [c.label for c in COLUMNS[:3]] + ["hardship_should"] + \
             [f"其中：{label}" for label in PARTS[1:]] + ["大学生\n参保人数"]
    data = xlsx([
        header,
        [440705001001, "朱集村委会", 3200, 3000, "2,854", 120, 118, 500, 30, 12.0],
        [None] * 10,
        ["440705001002 ", "大泽村委会", 5100, 4800, 4566, 200, None, 700, 41, 20],
        [None, "会城街道", 1, 2, 3, 4, 5, 6, 7, 8],
        ["合计", None, 8300, 7800, 7420, 320, 118, 1200, 71, 32],
        [],
        ["填表人", "赵六"],
        ["联系电话", 13800138000, "单位负责人：钱七"],
    ])
    parsed = read_progress_form(data, COLUMNS)

    assert [(n, code) for n, code, _ in parsed.rows] == [(2, "440705001001"), (4, "440705001002")]
    # raw cells come back as they were typed; parse_count checks them later
    assert parsed.rows[0][2]["enrolled"] == "2,854" and parsed.rows[0][2]["college_enrolled"] == 12
    assert parsed.filer == {"name": "赵六", "phone": "13800138000", "head": "钱七"}


def test_the_form_is_found_on_a_later_sheet_below_extra_title_rows():
    book = Workbook()
    book.active.title = "说明"
    book.active.append(["本工作簿第二页是进度表"])
    sheet = book.create_sheet("数据")
    sheet.append(["新会区"])
    sheet.append([])
    sheet.append(["单位代码", "单位名称"] + [c.label for c in COLUMNS])
    sheet.append(["440705001001", "朱集村委会"] + list(range(8)))
    sheet.append(["填表人：张三  联系电话：0750-6601234  单位负责人：李四  填表时间：2026年11月27日"])
    out = io.BytesIO()
    book.save(out)

    parsed = read_progress_form(out.getvalue(), COLUMNS)
    assert parsed.rows == [(4, "440705001001", dict(zip(KEYS, range(8))))]
    assert parsed.filer == FILER


def test_user_text_never_becomes_a_formula():
    evil = '=HYPERLINK("http://x","y")'
    rows = [FormRow("440705001001", evil, values(1, 1, 1, 0, 0, 0, 0, 0)),
            FormRow("440705001002", "+1-2", values(1, 1, 1, 0, 0, 0, 0, 0)),
            FormRow("440705001003", "@SUM(A1)", values(1, 1, 1, 0, 0, 0, 0, 0))]
    filer = {"name": "-2+3", "phone": "=1+1", "head": "@cmd"}
    data = form(rows=rows, filer=filer, unit_name="=cmd|' /C calc'!A0")
    sheet = sheet_of(data)

    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert not [c.coordinate for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    assert sheet["B5"].value == "'" + evil and sheet["B5"].data_type == "s"
    # the apostrophe is taken off again on the way in, so a name survives the round trip
    assert read_progress_form(data, COLUMNS).filer == filer


def test_control_characters_in_a_name_do_not_break_the_file():
    rows = [FormRow("440705001001", "朱集\x07村委会", values(1, 1, 1, 0, 0, 0, 0, 0))]
    assert sheet_of(form(rows=rows))["B5"].value == "朱集村委会"


def _zip_with(extra_name: str, extra: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(form())) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(extra_name, extra)
    return out.getvalue()


def _corrupt_member() -> bytes:
    # keep the zip directory intact but damage the compressed sheet, so only inflating fails
    data = bytearray(form())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for n in range(start + 10, start + info.compress_size - 10):
        data[n] ^= 0x5A
    return bytes(data)


def _plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "不是工作簿")
    return out.getvalue()


BAD_FILES = {
    "random bytes": (lambda: os.urandom(4096), "不是有效的 .xlsx"),
    "a CSV renamed .xlsx": (lambda: "单位代码,单位名称\n440705001001,朱集村委会\n".encode("gb18030"), "不是有效的 .xlsx"),
    "a truncated download": (lambda: form()[:3000], "不是有效的 .xlsx"),
    "an old .xls": (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), ".xls"),
    "a damaged sheet inside a sound zip": (_corrupt_member, "无法读取"),
    "a zip that is no workbook": (_plain_zip, "无法读取"),
    "a workbook without 单位代码": (lambda: xlsx([["代码", "名称"], ["440705001001", "朱集村委会"]]), "单位代码"),
    "a file over the upload limit": (lambda: bytes(MAX_UPLOAD_BYTES + 1), "MB"),
}


@pytest.mark.parametrize("make, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_with_a_chinese_reason(make, expected):
    with pytest.raises(TableError) as refused:
        read_progress_form(make(), COLUMNS)
    assert expected in str(refused.value) and CHINESE.search(str(refused.value))


def test_a_zip_bomb_is_refused_before_it_is_inflated(monkeypatch):
    monkeypatch.setattr(progress_workbook, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    bomb = _zip_with("xl/media/zeros.bin", bytes(2 * 1024 * 1024))
    assert len(bomb) < 100 * 1024  # small on disk, big once inflated

    with pytest.raises(TableError, match="解压后超过1MB"):
        read_progress_form(bomb, COLUMNS)


def test_a_missing_column_is_named():
    header = ["单位代码", "单位名称"] + [c.label for c in COLUMNS if c.key != "newborns_enrolled"]
    with pytest.raises(TableError, match="缺少指标列：新生儿已参保人数"):
        read_progress_form(xlsx([header, ["440705001001", "朱集村委会"] + [1] * 7]), COLUMNS)


def test_a_column_given_twice_is_refused():
    header = ["单位代码", "单位名称"] + [c.label for c in COLUMNS] + ["居民医保已参保人数"]
    with pytest.raises(TableError, match="居民医保已参保人数.*出现了两次"):
        read_progress_form(xlsx([header]), COLUMNS)


def test_a_duplicate_code_names_the_code_and_both_excel_rows():
    rows = [UNITS[0], UNITS[1], FormRow("440705001001", "朱集村（重复）", UNITS[0].values)]
    with pytest.raises(TableError) as refused:
        read_progress_form(form(rows=rows), COLUMNS)
    assert "440705001001" in str(refused.value) and "第5行和第7行" in str(refused.value)


@pytest.mark.skipif(shutil.which("soffice") is None,
                    reason="LibreOffice (soffice) is not installed; this optional check re-saves the form with it")
def test_a_form_resaved_by_libreoffice_reads_back(tmp_path):
    source = tmp_path / "in" / "进度表.xlsx"
    source.parent.mkdir()
    source.write_bytes(form())
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "out"), str(source)], check=True, capture_output=True, timeout=120)

    parsed = read_progress_form((tmp_path / "out" / "进度表.xlsx").read_bytes(), COLUMNS)
    assert [code for _, code, _ in parsed.rows] == ["440705001001", "440705001002", "440705002001"]
    assert unit_values(parsed)["440705002001"] == UNITS[3].values
    assert parsed.filer == FILER
