"""Hostile input: random bodies, cells, CSV files and workbooks get a 4xx in Chinese, never a 500 or half a write.

Property-based (hypothesis) over the four ways counts come in: the JSON API, the grid's cells, `flask reports
import` and the XLSX upload; and the two XLSX exports, which must never hand Excel a formula.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import string
from urllib.parse import quote

import pytest
from flask import g
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.models import Region, Report, Revision
from reporting.regions.hierarchy import descendants_at, region_by_code
from reporting.validation import MAX_COUNT, parse_values

from .conftest import make_user

HX = {"HX-Request": "true"}
KEYS = ["population", "should_enroll", "enrolled", "hardship_should", "hardship_enrolled", "students_enrolled",
        "newborns_enrolled", "college_enrolled"]
FULL = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
        "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}
HAN = re.compile(r"[\u4e00-\u9fff]")
FORMULA_STARTS = ("=", "+", "-", "@")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SETTINGS = settings(max_examples=50, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

# --- what a hostile client sends -----------------------------------------------------------------

NASTY_STRINGS = [
    '=HYPERLINK("http://x","y")', "=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\x00", "1\x002", "12\x00",
    "１２３", "١٢٣", "𝟏𝟐𝟑", "12,345", "1，000", "-5", "-0", "1e5", "0x10", " 7 ", "9" * 40, "NaN", "Infinity",
    "\u202e123", "<script>alert(1)</script>", "'; DROP TABLE report;--", "\ufeff5", "5\u200b", "二千",
    "1 000", "1_000", "+5", "2000000001", "2147483648", "99999999999999999999999", "\t", "\r\n", "🙂🙂🙂",
    # phones valid once their spaces are gone, but longer than the column (PostgreSQL drops trailing spaces only)
    "1   3   8   0   2   2   1   6   1   0   3", "138          0221          6103",
]
LONG_PHONE = "1   3   8   0   2   2   1   6   1   0   3"  # 41 characters, 11 digits


def long_string(kind: int) -> str:
    # built, not listed: hypothesis prints its strategies, and long literals make that print huge
    return ["长" * 60, "x" * 5000, "".join(chr(c) for c in range(1, 32)) * 3, "🙂" * 300][kind]


hostile_text = st.one_of(st.sampled_from(NASTY_STRINGS), st.integers(min_value=0, max_value=3).map(long_string),
                         st.text(max_size=40), st.text(alphabet=st.characters(codec="utf-8"), min_size=100,
                                                       max_size=600))
numbers = st.one_of(st.integers(min_value=-10, max_value=10 ** 6), st.integers(min_value=-10 ** 40, max_value=10 ** 40),
                    st.sampled_from([10 ** 30, -1, 0, 2 ** 31, 2 ** 63, MAX_COUNT, MAX_COUNT + 1, -(10 ** 30)]),
                    st.floats(allow_nan=True, allow_infinity=True))
json_leaf = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_any = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=10)
values = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)),
                         st.one_of(numbers, hostile_text, json_any), max_size=9)
filer = st.one_of(json_any, st.fixed_dictionaries({}, optional={
    "name": st.one_of(st.none(), hostile_text, json_leaf), "phone": st.one_of(st.none(), hostile_text, json_leaf),
    "head": st.one_of(st.none(), hostile_text, json_leaf), "extra": json_any}))
bodies = st.one_of(json_any, st.fixed_dictionaries({}, optional={
    "values": st.one_of(values, st.fixed_dictionaries({k: st.one_of(numbers, hostile_text) for k in KEYS}), json_any),
    "filer": filer, "submit": st.one_of(st.booleans(), json_leaf), "reason": st.one_of(hostile_text, json_leaf),
    "revision": st.one_of(st.none(), numbers, json_leaf), "unknown": json_any}))


def deep_body(kind: int) -> bytes:
    """Nesting past the JSON decoder's recursion limit, or just short of it."""
    return [b"[" * 3000 + b"]" * 3000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b'{"values": {"enrolled": ' + b"[" * 400 + b"]" * 400 + b"}}"][kind]


raw_bodies = st.one_of(
    bodies.map(lambda b: json.dumps(b).encode()),  # NaN and Infinity too, which Python's JSON reads back
    st.binary(max_size=300),
    st.sampled_from([
        b'{"values": {"enrolled": "\\ud800"}}', b'{"filer": {"name": "\\udfff\\ud800"}, "values": {}}',
        b'{"values": {"\\ud83d": 1}}',
        b'{"values": {"enrolled": 1e999}}', b'{"values": ', b"\xff\xfe{", "{}".encode("utf-16"), b"null", b"",
        b'{"values": {"enrolled": 5}, "filer": {"name": "\\u0000"}}', b'{"values": {"enrolled": 5}}' * 2,
    ]),
    st.integers(min_value=0, max_value=2).map(deep_body))

#: plausible counts, so that some of what is sent is accepted and the writes are checked too
counts = st.integers(min_value=0, max_value=3000).map(str)
form_values = st.dictionaries(st.sampled_from(KEYS + ["revision", "reason", "csrf_token", "unit", "nonsense"]),
                              st.one_of(counts, hostile_text, numbers.map(str)), max_size=8)


def cell_values():
    """What a cell of a workbook may hold: formulas, huge and negative numbers, dates, long text, unicode."""
    storable = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="".join(
        chr(c) for c in range(32) if ILLEGAL_CHARACTERS_RE.match(chr(c)))), max_size=80)
    return st.one_of(st.none(), st.booleans(), storable, st.sampled_from([
        '=HYPERLINK("http://x","y")', "=1+1", "=A1*1000", "@SUM(A1)", "-2+3", "+1", "12,345", "１２３",
        10 ** 30, -(10 ** 30), 2 ** 63, MAX_COUNT + 1, -1, 1.5, 1e300, -0.0, "1e5", "", " ",
        dt.datetime(2022, 10, 1), dt.date(1900, 1, 1), dt.time(12, 0)]),
        st.integers(min_value=-10 ** 12, max_value=10 ** 12), st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=0, max_value=1).map(lambda kind: ["长" * 200, "9" * 300][kind]))


# --- the world -------------------------------------------------------------------------------------

@pytest.fixture
def world(app, client, auth, runner, jiangmen, frozen_now):
    """新会区's grid for period 1 with one submitted, one draft and the rest blank; its filer signed in."""
    frozen_now(dt.datetime(2022, 10, 20, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    token = runner.invoke(args=["users", "token", "xinhui"]).stdout.strip().splitlines()[-1]
    units = list(db.session.scalars(descendants_at(region_by_code("440705"), "village")
                                    .with_only_columns(Region.code).order_by(Region.code)))
    period = campaign.periods[0]
    import_reports(period, [(1, units[0], FULL, FILER)], submit=True)
    import_reports(period, [(1, units[1], {"enrolled": 1000}, FILER)], submit=False)
    db.session.commit()
    auth.login("xinhui")

    class World:
        pass
    w = World()
    w.period_id, w.units, w.token = period.id, units, token
    w.targets = units[:3]  # submitted, draft, blank
    w.grid = f"/filing/{period.id}/440705"
    w.indicators = campaign.indicators
    return w


def snapshot(period_id: int) -> dict:
    """Every stored report of the period, and how many reports and revisions exist at all."""
    db.session.rollback()  # a fresh read: the CLI writes through a session of its own
    columns = [getattr(Report, f"v{n}") for n in range(1, 9)]
    rows = db.session.execute(select(Region.code, Report.status, Report.revision, Report.filer_name,
                                     Report.filer_phone, Report.filer_head, *columns)
                              .join(Region, Region.id == Report.region_id).where(Report.period_id == period_id))
    return {"reports": {r[0]: tuple(r[1:]) for r in rows},
            "report_count": db.session.scalar(select(func.count(Report.id))),
            "revision_count": db.session.scalar(select(func.count(Revision.id)))}


def only_unit_changed(before: dict, after: dict, unit: str) -> bool:
    others = lambda s: {k: v for k, v in s["reports"].items() if k != unit}  # noqa: E731
    return others(before) == others(after)


def chinese(text: str) -> bool:
    return bool(HAN.search(text))


def refusal(html: str) -> bool:
    """The page or fragment says, in Chinese, what is wrong (an error message, not just any Chinese)."""
    return bool(re.search(r'class="error">[^<]*[\u4e00-\u9fff]', html))


# --- the JSON API ----------------------------------------------------------------------------------

@SETTINGS
@given(raw=raw_bodies, target=st.integers(min_value=0, max_value=2),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]))
@example(raw=json.dumps({"values": FULL, "filer": {**FILER, "phone": LONG_PHONE},
                         "submit": True}).encode(), target=2, content_type="application/json")
@example(raw=json.dumps({"values": FULL, "filer": {**FILER, "name": "黄\x00丽华"}, "submit": True}).encode(),
         target=2, content_type="application/json")
@example(raw=json.dumps({"values": {"enrolled": 2001}, "reason": "更正\x00"}).encode(), target=0,
         content_type="application/json")
@example(raw=b'{"values": {"enrolled": "\\ud800"}}', target=1, content_type="application/json")
@example(raw=deep_body(0), target=1, content_type="application/json")
@example(raw=deep_body(2), target=1, content_type="application/json")
def test_api_put_answers_4xx_in_chinese_and_writes_all_or_nothing(client, world, raw, target, content_type):
    unit = world.targets[target]
    before = snapshot(world.period_id)
    answer = client.put(f"/api/v1/reports/{unit}/{world.period_id}", data=raw, content_type=content_type,
                        headers={"Authorization": f"Bearer {world.token}"})
    assert answer.status_code in (200, 400, 409, 422), answer.status_code
    event(f"PUT answered {answer.status_code}")
    body = answer.get_json()
    after = snapshot(world.period_id)
    if answer.status_code == 200:
        assert only_unit_changed(before, after, unit)
        assert all(isinstance(v, int) and 0 <= v <= MAX_COUNT for v in body["values"].values())
        assert after["report_count"] - before["report_count"] in (0, 1)
    else:
        assert body["errors"] and all(chinese(e["message"]) for e in body["errors"])
        assert after == before, "a refused PUT changed the database"


@SETTINGS
@given(code=st.one_of(hostile_text.filter(bool), st.sampled_from(["\x00", "4407051060010", "44070510600", "../4407",
                                                                  "440705%00", "０４４０", " 440705106001"])),
       period=st.one_of(st.integers(min_value=0, max_value=10 ** 30), st.sampled_from([2 ** 31, 2 ** 63, 0])))
@example(code="440705106001", period=2 ** 63)
@example(code="\x00", period=1)
def test_api_urls_with_hostile_codes_and_ids_are_4xx(client, world, code, period):
    headers = {"Authorization": f"Bearer {world.token}"}
    url = f"/api/v1/reports/{quote(code, safe='')}/{period}"
    for answer in (client.get(url, headers=headers), client.put(url, json={"values": {"enrolled": 1}}, headers=headers),
                   client.get(f"/api/v1/regions/{quote(code, safe='')}", headers=headers)):
        # 405: werkzeug names the other method of the path when no rule accepts the id;
        # 308: an encoded slash ending the code becomes the canonical URL's trailing slash
        assert answer.status_code in (200, 308, 403, 404, 405, 422), (answer.status_code, code, period)
        if answer.status_code not in (200, 308):
            assert chinese(answer.get_json()["errors"][0]["message"])


# --- the grid's cells --------------------------------------------------------------------------------

@SETTINGS
@given(form=st.one_of(form_values, st.dictionaries(st.sampled_from(KEYS), counts, min_size=1)),
       target=st.integers(min_value=0, max_value=2))
@example(form={"enrolled": "2001", "reason": "更正\x00"}, target=0)
@example(form={"enrolled": "1\x002"}, target=2)
@example(form={"population": "99999999999999999999999", "revision": "9" * 5000}, target=1)
def test_grid_cell_posts_answer_with_messages_and_never_half_save(client, world, form, target):
    unit = world.targets[target]
    before = snapshot(world.period_id)
    answer = client.post(f"{world.grid}/units/{unit}", data=form, headers=HX)
    assert answer.status_code == 200, answer.status_code
    html = answer.get_data(as_text=True)
    trigger = json.loads(answer.headers["HX-Trigger"])["grid-cells"]
    after = snapshot(world.period_id)
    raw = {k: v for k, v in form.items() if k in KEYS}
    _, parse_errors = parse_values(world.indicators, raw)
    assert only_unit_changed(before, after, unit), "a cell post changed another unit"
    assert after["revision_count"] >= before["revision_count"]
    if parse_errors:
        assert after == before, "a cell that is not a count was saved"
        # the cell is marked, unless a stale revision refused the whole row first
        assert trigger["invalid"] or "已在其他窗口修改" in html or "已被他人修改" in html
    if trigger["invalid"]:
        assert refusal(html)
    event(f"cell post: {'refused' if after == before else 'saved'}")


# --- flask reports import ----------------------------------------------------------------------------

HEADINGS = ["单位代码", "单位名称", "填表人", "联系电话", "单位负责人", "常住人口数", "居民医保已参保人数"] + KEYS


@SETTINGS
@given(header=st.one_of(st.just(["单位代码"] + KEYS), st.lists(st.one_of(st.sampled_from(HEADINGS), hostile_text),
                                                              max_size=12)),
       cells=st.lists(st.lists(st.one_of(counts, hostile_text, numbers.map(str), st.just("")), max_size=12),
                      max_size=6),
       code_picks=st.lists(st.integers(min_value=0, max_value=5), max_size=6),
       raw=st.one_of(st.none(), st.binary(max_size=300)), submit=st.booleans(),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
@example(header=["单位代码"] + KEYS + ["填表人", "联系电话", "单位负责人"],
         cells=[["", *map(str, FULL.values()), "黄\x00丽华", "13802216103", "张局长"]], code_picks=[2], raw=None,
         submit=True, encoding="utf-8")
@example(header=["单位代码"] + KEYS + ["填表人", "联系电话", "单位负责人"],
         cells=[["", *map(str, FULL.values()), "黄丽华", LONG_PHONE, "张局长"]],
         code_picks=[2], raw=None, submit=True, encoding="utf-8")
def test_reports_import_refuses_bad_files_in_one_chinese_line(runner, world, tmp_path, header, cells, code_picks,
                                                              raw, submit, encoding):
    if raw is None:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        code_at = header.index("单位代码") if "单位代码" in header else 0
        for n, row in enumerate(cells):
            if n < len(code_picks) and len(row) > code_at:  # real unit codes in the 单位代码 column, often
                row[code_at] = world.units[code_picks[n]]
            writer.writerow(row)
        try:
            raw = out.getvalue().encode(encoding)
        except UnicodeEncodeError:
            raw = out.getvalue().encode("utf-8")
    path = tmp_path / "reports.csv"
    path.write_bytes(raw)
    before = snapshot(world.period_id)
    result = runner.invoke(args=["reports", "import", str(world.period_id), str(path)] + (["--submit"] if submit else []))
    after = snapshot(world.period_id)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1)
    event(f"import exit code {result.exit_code}")
    if result.exit_code:
        reason = next(line for line in result.output.splitlines() if line.startswith("Error: "))
        assert chinese(reason), reason
        assert after == before, "a refused import wrote something"


# --- the XLSX upload ---------------------------------------------------------------------------------

def upload(client, world, data: bytes, submit: bool = False, reason: str = "", name: str = "进度表.xlsx"):
    form = {"workbook": (io.BytesIO(data), name, XLSX), "reason": reason}
    if submit:
        form["submit_now"] = "y"
    return client.post(f"{world.grid}/upload", data=form, content_type="multipart/form-data")


def some_xlsx() -> bytes:
    book = Workbook()
    book.active.append(["单位代码", "居民医保已参保人数"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@SETTINGS
@given(data=st.one_of(st.binary(max_size=2000),
                      st.binary(max_size=500).map(lambda b: b"PK\x03\x04" + b),
                      st.binary(max_size=500).map(lambda b: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b),
                      st.integers(min_value=0, max_value=4000).map(lambda n: some_xlsx()[:n])),
       name=st.sampled_from(["进度表.xlsx", "a.xls", "a.csv", "", "../../etc/passwd", "x" * 300]))
def test_upload_of_random_bytes_is_refused_in_chinese(client, world, data, name):
    before = snapshot(world.period_id)
    answer = upload(client, world, data, name=name)
    assert answer.status_code == 422, answer.status_code
    assert refusal(answer.get_data(as_text=True))
    assert snapshot(world.period_id) == before


@pytest.fixture
def blank_form(client, world):
    """The grid's own workbook, as downloaded (kept on an object: hypothesis prints its arguments)."""
    world.workbook = client.get(f"{world.grid}/form.xlsx").data
    return world


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12),
                                cell_values()), min_size=1, max_size=12),
       footer=st.lists(cell_values(), max_size=4), submit=st.booleans(),
       reason=st.one_of(st.just(""), hostile_text.map(lambda t: t.replace("\x00", ""))))
@example(edits=[(5, 3, "=HYPERLINK(\"http://x\",\"y\")")], footer=["填表人：黄丽华", "联系电话：" + LONG_PHONE,
                                                                   "单位负责人：张局长"], submit=True, reason="更正")
@example(edits=[(5, 3, 10 ** 30), (6, 4, -(10 ** 30))], footer=[], submit=False, reason="")
def test_upload_of_hostile_workbooks_is_all_or_nothing(client, world, blank_form, edits, footer, submit, reason):
    book = load_workbook(io.BytesIO(blank_form.workbook))
    sheet = book.active
    for row, column, value in edits:  # the first dozen unit rows, from row 5 under the two header rows
        sheet.cell(row=row + 4, column=column, value=value)
    footer_row = next(r for r in range(1, sheet.max_row + 1) if str(sheet.cell(r, 1).value or "").startswith("填表人"))
    footer_cells = sorted(r.min_col for r in sheet.merged_cells.ranges if r.min_row == footer_row) or [1]
    for column, value in zip(footer_cells, footer):
        sheet.cell(row=footer_row, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    before = snapshot(world.period_id)
    answer = upload(client, world, out.getvalue(), submit=submit, reason=reason)
    after = snapshot(world.period_id)
    # 303: written; 200: written, and the page lists the 提示 it raised; 422: refused, nothing written
    assert answer.status_code in (200, 303, 422), answer.status_code
    event(f"upload answered {answer.status_code}")
    if answer.status_code == 422:
        assert refusal(answer.get_data(as_text=True))
        assert after == before, "a refused upload wrote something"
    if answer.status_code == 200:
        page = answer.get_data(as_text=True)
        assert "上传完成" in page and 'class="warning' in page, "a 200 upload page shows what it did and its 提示"


def test_upload_over_the_size_limit_is_413_in_chinese(app, client, world):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    before = snapshot(world.period_id)
    # encoded here, in memory: the test client would spool a big form to a temporary file nobody closes
    boundary, body = encode_multipart({"workbook": FileStorage(io.BytesIO(b"PK\x03\x04" + b"\0" * (2 * 1024 * 1024)),
                                                               "进度表.xlsx", content_type=XLSX)})
    answer = client.post(f"{world.grid}/upload", data=body,
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == 413 and "上传的文件过大（上限1MB）" in answer.get_data(as_text=True)
    api = client.put(f"/api/v1/reports/{world.units[2]}/{world.period_id}",
                     data=json.dumps({"values": {"enrolled": 1}, "reason": "x" * (2 * 1024 * 1024)}),
                     content_type="application/json", headers={"Authorization": f"Bearer {world.token}"})
    assert api.status_code == 413 and api.get_json()["errors"][0]["message"] == "上传的文件过大（上限1MB）"
    assert snapshot(world.period_id) == before


# --- exports never carry formulas ------------------------------------------------------------------

formula_like = st.builds(lambda start, rest: start + rest,
                         st.sampled_from(['=HYPERLINK("http://evil","x")', "@SUM(A1)", "=1+2", "+cmd|' /C calc'!A0",
                                          "-2+3", "=", "@", "+", "-", "\t=1", "\r=1"]),
                         st.text(alphabet=string.printable + "区镇村", max_size=12))


def formula_cells(data: bytes) -> list[str]:
    book = load_workbook(io.BytesIO(data))
    return [f"{sheet.title}!{cell.coordinate}={cell.value!r}" for sheet in book.worksheets
            for row in sheet.iter_rows() for cell in row
            if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS))]


@pytest.fixture
def admin_client(app, world):
    """The city admin, in a client of their own: the ranking of 江门市 lists the counties."""
    make_user("jm_admin", "city_admin", "4407")
    admin = app.test_client()
    g.pop("_login_user", None)
    assert admin.post("/login", data={"username": "jm_admin", "password": "correct-horse-battery"}).status_code == 303
    return admin


@settings(SETTINGS, max_examples=20)
@given(village=formula_like, township=formula_like, county=formula_like, own_county=formula_like,
       filer_name=formula_like, filer_head=formula_like)
@example(village='=HYPERLINK("http://evil","x")', township="@SUM(A1)", county="=1+2", own_county="-1",
         filer_name="@SUM(A1)", filer_head="-2+3")
@example(village="\r=1", township="\t=1", county="=1\r\n2", own_county="=新会\r\n区", filer_name="@", filer_head="+")
def test_exports_never_hand_excel_a_formula(client, admin_client, world, village, township, county, own_county,
                                            filer_name, filer_head):
    unit = region_by_code(world.units[0])
    unit.name, unit.parent.name = village, township
    region_by_code("440703").name = county
    region_by_code("440705").name = own_county  # it names the workbooks too
    db.session.execute(Report.__table__.update().where(Report.__table__.c.period_id == world.period_id)
                       .values(filer_name=filer_name, filer_head=filer_head))
    db.session.commit()
    for who, url in ((client, f"{world.grid}/form.xlsx"),
                     (client, f"/dashboard/440705/ranking.xlsx?period={world.period_id}"),
                     (admin_client, f"/dashboard/4407/ranking.xlsx?period={world.period_id}")):
        g.pop("_login_user", None)  # the clients share the fixture's `g`, where flask-login keeps its user
        answer = who.get(url)
        assert answer.status_code == 200, (url, answer.status_code)
        assert formula_cells(answer.data) == [], url


# --- every field of every form --------------------------------------------------------------------

def form_fields() -> set[str]:
    """The names of every field of every Flask-WTF form of the site (forms/*.py), with the
    prefixes the pages give them, and the grid's own fields (indicator keys, footer, action)."""
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm
    from wtforms.fields.core import UnboundField

    import forms
    names = set(KEYS) | {"filer_name", "filer_phone", "filer_head", "action", "reason", "revision", "ack",
                         "unit", "file", "next", "back"}
    for info in pkgutil.iter_modules(forms.__path__):
        module = importlib.import_module(f"forms.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, FlaskForm) and value is not FlaskForm:
                for attribute in dir(value):
                    if isinstance(getattr(value, attribute, None), UnboundField):
                        names.update({attribute, f"remove-{attribute}"})
    return names


hostile_value = st.one_of(st.sampled_from(NASTY_STRINGS + ["-5", "99999999999999999999", "0", "2027", "", "y",
                                                           "approve", "return", "submit", "save", "wecom",
                                                           "dingtalk", "city_admin", "4407", "440705",
                                                           "2027-02-30", "0000-00-00", "http://127.0.0.1:6379/"]),
                          st.text(max_size=60), st.integers(min_value=-2 ** 70, max_value=2 ** 70).map(str))


def post_routes(app) -> list[str]:
    return sorted(rule.endpoint for rule in app.url_map.iter_rules()
                  if "POST" in rule.methods and not rule.rule.startswith("/api/") and rule.endpoint != "static")


def test_every_post_form_answers_below_500_whatever_its_fields_hold(app, runner, jiangmen, anhui, frozen_now):
    """Hypothesis fills every field of every form with hostile values and posts it to every form
    route (as the city admin and as a county filer, each inside their own region): never a 5xx."""
    from .test_access_matrix import ROUTES, build_world, login
    frozen_now(dt.datetime(2022, 10, 20, 10, 0))
    # a 催报 the fuzzer sends goes to the world's robots at once (no queue): one short try, no waits
    # between tries, or each such example would wait out the retries (10 s, then 60 s)
    app.config.update(WEBHOOK_ATTEMPTS=1, WEBHOOK_TIMEOUT=0.2, WEBHOOK_RETRY_SECONDS=(0,))
    identities, _ = build_world(app, runner)
    people = [who for who in identities if who.role in ("city_admin", "county_filer")]
    endpoints = post_routes(app)
    assert "admin.holiday_preview" in endpoints and "review.webhook" in endpoints
    fields = sorted(form_fields())
    seen: dict[str, set[int]] = {}

    @settings(max_examples=int(os.environ.get("FORM_FUZZ_EXAMPLES", "250")), deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(endpoint=st.sampled_from([e for e in endpoints if e != "auth.logout"]), who=st.sampled_from(people),
           values=st.dictionaries(st.sampled_from(fields), hostile_value, max_size=12), htmx=st.booleans())
    @example(endpoint="admin.holiday_preview", who=people[0], values={"year": "-5", "text": "春节：2月6日放假。"},
             htmx=False)
    @example(endpoint="admin.holiday_preview", who=people[0],
             values={"year": "99999999999999999999", "text": "春节：2月6日放假。"}, htmx=True)
    @example(endpoint="admin.holidays_save", who=people[0], values={"year": "-5", "text": "x"}, htmx=False)
    def post(endpoint, who, values, htmx):
        call = ROUTES[endpoint]["POST"]
        base = call.data(who.own) if call.data else {}
        form = {**base, **values}
        g.pop("_login_user", None)
        answer = who.client.post(call.url(who.own), data=form, headers=HX if htmx else {})
        seen.setdefault(endpoint, set()).add(answer.status_code)
        assert answer.status_code < 500, (endpoint, who.role, form, answer.get_data(as_text=True)[:300])
        if answer.status_code in (302, 401) and "/login" in (answer.location or "/login"):
            login(who)  # the form signed the user out (a password change ends every session)
        db.session.rollback()
    post()
    assert len(seen) >= len(endpoints) // 2, sorted(seen)


def test_search_with_a_nul_byte_finds_nothing_instead_of_failing(client, world):
    for q in ("%00", "沙堆%00", "%00%00440705", "\u0000"):
        answer = client.get(f"/search/?q={q}", headers=HX)
        assert answer.status_code == 200, answer.status_code
    assert "沙堆镇" in client.get("/search/?q=沙堆%00").get_data(as_text=True)
