"""The 参保进度表 grid: full page and htmx fragments, autosave, submission, history, Excel round trip."""
import datetime as dt
import io
import json
import re

import pytest
from sqlalchemy import select

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.filing.progress_workbook import Column, read_progress_form
from reporting.models import Region, Report
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import make_user

HX = {"HX-Request": "true"}
FULL = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
        "hardship_enrolled": 80, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}


@pytest.fixture
def grid(client, auth, jiangmen, frozen_now):
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    auth.login("xinhui")
    period = campaign.periods[0]
    units = list(db.session.scalars(descendants_at(region_by_code("440705"), "village").order_by(Region.code)))

    class Grid:
        url = f"/filing/{period.id}/440705"

        def unit_url(self, unit):
            return f"{self.url}/units/{unit.code}"

        def fill_all(self, **overrides):
            import_reports(period, [(n, u.code, {**FULL, **overrides}, {}) for n, u in enumerate(units)],
                           submit=False)
            db.session.commit()
    g = Grid()
    g.period, g.units, g.campaign = period, units, campaign
    return g


def stored(unit):
    db.session.expire_all()
    return db.session.scalar(select(Report).where(Report.region_id == unit.id))


def test_grid_full_page_and_fragment(client, grid):
    page = client.get(grid.url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "填报单位：新会区医疗保障局" in html and "数据截至：2022年9月30日" in html
    assert "报送截止：2022年10月8日" in html
    assert html.count('class="unit"') == len(grid.units)
    assert 'id="sub-440705001"' in html and "会城街道 小计" in html and 'id="total-row"' in html
    assert '<th colspan="4">其中</th>' in html
    for label in ("填表人", "联系电话", "单位负责人"):
        assert label in html
    assert "HX-Request" in page.headers["Vary"]
    fragment = client.get(grid.url, headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and 'id="filing-grid"' in fragment and "填表人" not in fragment


def test_typing_saves_a_draft_and_recomputes_totals(client, grid):
    unit = grid.units[0]
    answer = client.post(grid.unit_url(unit), data={"should_enroll": "2,000", "enrolled": "1500",
                                                    "revision": "0"}, headers=HX)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    report = stored(unit)
    assert (report.status, report.v2, report.v3, report.revision) == ("draft", 2000, 1500, 1)
    assert 'id="rate-%s" class="num rate" hx-swap-oob="true">75.00%%' % unit.code in html
    subtotal = re.search(r'<tr id="sub-440705001".*?</tr>', html, re.S).group(0)
    assert ">1,500<" in subtotal and "75.00%" in subtotal
    assert re.search(r'<tr id="total-row".*?>1,500<', html, re.S)
    assert 'value="1"' in html  # the row now carries revision 1
    assert json.loads(answer.headers["HX-Trigger"])["grid-cells"]["invalid"] == []


def test_the_pages_row_prints_the_cells_a_cell_update_sends_again(client, grid):
    """The grid's row prints its code and rate cells inline (its inner loop); the answer to a cell
    update sends them with code_cell and rate_cell: the same markup, so the swap changes nothing else."""
    unit = grid.units[0]
    answer = client.post(grid.unit_url(unit), data={"should_enroll": "2000", "enrolled": "1500", "revision": "0"},
                         headers=HX).get_data(as_text=True)
    page = client.get(grid.url).get_data(as_text=True)
    for cell in ("code", "rate"):
        sent = re.search(rf'<td id="{cell}-{unit.code}"[^>]*>.*?</td>', answer, re.S).group(0)
        printed = re.search(rf'<td id="{cell}-{unit.code}"[^>]*>.*?</td>', page, re.S).group(0)
        assert sent.replace(' hx-swap-oob="true"', "") == printed


def test_cell_errors_show_at_the_cell_and_bad_numbers_are_not_saved(client, grid):
    unit = grid.units[0]
    answer = client.post(grid.unit_url(unit), data={"enrolled": "-3", "revision": "0"}, headers=HX)
    assert "居民医保已参保人数不能为负数" in answer.get_data(as_text=True)
    assert json.loads(answer.headers["HX-Trigger"])["grid-cells"]["invalid"] == ["enrolled"]
    assert stored(unit) is None
    # a part above its total is kept as a draft (typing goes on) but flagged
    answer = client.post(grid.unit_url(unit), data={"enrolled": "100", "students_enrolled": "150",
                                                    "revision": "0"}, headers=HX)
    assert "不能大于居民医保已参保人数" in answer.get_data(as_text=True)
    assert json.loads(answer.headers["HX-Trigger"])["grid-cells"]["invalid"] == ["students_enrolled"]
    assert stored(unit).status == "draft"


def test_stale_row_gets_a_conflict_with_the_other_values(client, auth, grid):
    unit = grid.units[0]
    client.post(grid.unit_url(unit), data={"enrolled": "100", "revision": "0"}, headers=HX)
    client.post(grid.unit_url(unit), data={"enrolled": "222", "revision": "1"}, headers=HX)  # another tab
    answer = client.post(grid.unit_url(unit), data={"enrolled": "999", "revision": "1"}, headers=HX)
    html = answer.get_data(as_text=True)
    assert "已在其他窗口修改" in html and "他人" not in html and "居民医保已参保人数 222" in html
    assert 'id="code-' not in html  # the stale revision stays, so nothing is overwritten later
    assert stored(unit).v3 == 222
    # someone else, this time
    make_user("xinhui2", "county_filer", "440705")
    auth.logout()
    auth.login("xinhui2")
    client.post(grid.unit_url(unit), data={"enrolled": "333", "revision": "2"}, headers=HX)
    auth.logout()
    auth.login("xinhui")
    answer = client.post(grid.unit_url(unit), data={"enrolled": "999", "revision": "2"}, headers=HX)
    html = answer.get_data(as_text=True)
    assert "已被他人修改" in html and "xinhui2修改" in html and "居民医保已参保人数 333" in html
    assert stored(unit).v3 == 333


def test_cell_update_without_htmx_redirects_to_the_grid(client, grid):
    answer = client.post(grid.unit_url(grid.units[0]), data={"enrolled": "1"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(grid.url)


def test_submit_lists_missing_units_and_saves_nothing(client, grid):
    client.post(grid.unit_url(grid.units[0]), data=FULL | {"revision": "0"}, headers=HX)
    answer = client.post(f"{grid.url}/submit", data={"filer_name": "黄丽华", "filer_phone": "13802216103",
                                                     "filer_head": "张局长"}, headers=HX)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "尚有241个单位未填写，不能提交" in html
    # one line for the empty units, with a filter showing only them, instead of 241 lines
    assert "尚未填写" not in html and html.count("尚有241个单位未填写") == 2
    assert f'href="{grid.url}?only=missing"' in html
    assert stored(grid.units[0]).status == "draft"
    only = client.get(f"{grid.url}?only=missing").get_data(as_text=True)
    assert f'id="u-{grid.units[1].code}"' in only and f'id="u-{grid.units[0].code}"' not in only
    assert "显示全部" in only


def test_submit_errors_link_to_each_cell(client, grid):
    grid.fill_all()
    unit = grid.units[3]
    client.post(grid.unit_url(unit), data={"students_enrolled": "9999", "revision": "1"}, headers=HX)
    answer = client.post(f"{grid.url}/submit", data={"filer_name": "黄丽华", "filer_phone": "123",
                                                     "filer_head": ""}, headers=HX)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f'href="#c-{unit.code}-students_enrolled"' in html
    assert "请填写单位负责人" in html and "不是有效的手机或固定电话号码" in html
    assert all(stored(u).status == "draft" for u in grid.units[:5])


def test_an_over_long_footer_is_named_at_its_field(client, grid):
    grid.fill_all()
    answer = client.post(f"{grid.url}/submit", data={"filer_name": "黄" * 51, "filer_phone": "13802216103",
                                                     "filer_head": "张局长"}, headers=HX)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "不能提交" in html
    assert 'href="#filer_name"' in html and "填表人最多50字" in html
    assert 'maxlength="50"' in html  # the browser stops the 51st character in the first place
    assert all(stored(u).status == "draft" for u in grid.units[:5])


def test_warnings_need_one_acknowledgement_then_submit(client, grid):
    grid.fill_all(enrolled=2700)  # above 应参保: a warning on every unit
    footer = {"filer_name": "黄丽华", "filer_phone": "13802216103", "filer_head": "张局长"}
    first = client.post(f"{grid.url}/submit", data=footer, headers=HX)
    html = first.get_data(as_text=True)
    assert first.status_code == 422 and "参保率超过100%" in html and "确认无误" in html
    assert stored(grid.units[0]).status == "draft"
    second = client.post(f"{grid.url}/submit", data=footer | {"acknowledge": "y"}, headers=HX)
    assert second.status_code == 204 and second.headers["HX-Redirect"].endswith(grid.url)
    report = stored(grid.units[0])
    assert (report.status, report.filer_name, report.submitted_at) == ("submitted", "黄丽华",
                                                                       dt.datetime(2022, 10, 5, 10, 0))
    page = client.get(grid.url).get_data(as_text=True)
    assert "已提交" in page and "迟报" not in page


def test_late_submission_is_marked(client, grid, frozen_now):
    grid.fill_all()
    frozen_now(dt.datetime(2022, 10, 9, 9, 0))  # after 10月8日
    assert "逾期未报" in client.get(grid.url).get_data(as_text=True)
    answer = client.post(f"{grid.url}/submit", data={"filer_name": "黄丽华", "filer_phone": "13802216103",
                                                     "filer_head": "张局长"})
    assert answer.status_code == 303
    page = client.get(grid.url).get_data(as_text=True)
    assert "已提交" in page and "迟报" in page


def test_correction_needs_reason_and_shows_in_history(client, grid):
    grid.fill_all()
    client.post(f"{grid.url}/submit", data={"filer_name": "黄丽华", "filer_phone": "13802216103",
                                            "filer_head": "张局长"})
    unit = grid.units[0]
    refused = client.post(grid.unit_url(unit), data={"enrolled": "2100", "revision": "2"}, headers=HX)
    assert "修改已提交的报表须填写修改原因" in refused.get_data(as_text=True)
    assert stored(unit).v3 == 2000
    client.post(grid.unit_url(unit), data={"enrolled": "2100", "revision": "2", "reason": "补录"}, headers=HX)
    assert stored(unit).v3 == 2100
    history = client.get(f"{grid.url}/history").get_data(as_text=True)
    assert "补录" in history and "<del>2,000</del> → <ins>2,100</ins>" in history and "xinhui" in history


def test_closed_period_is_read_only(client, grid, frozen_now):
    frozen_now(dt.datetime(2023, 3, 2, 9, 0))
    html = client.get(grid.url).get_data(as_text=True)
    assert "已关闭，只读" in html and "disabled" in html and "hx-post=\"/filing" not in html.split("submit-panel")[0]
    answer = client.post(grid.unit_url(grid.units[0]), data={"enrolled": "1", "revision": "0"}, headers=HX)
    assert "已关闭" in answer.get_data(as_text=True) and stored(grid.units[0]) is None


def test_other_counties_cannot_open_the_grid_and_viewers_only_read_it(client, auth, grid):
    make_user("pengjiang", "county_filer", "440703")
    make_user("boss", "viewer", "4407")
    for user in ("pengjiang", "boss"):
        auth.logout()
        auth.login(user)
        assert client.get(grid.url).status_code == (200 if user == "boss" else 403)
        assert client.post(grid.unit_url(grid.units[0]), data={"enrolled": "1"}, headers=HX).status_code == 403
        assert client.post(f"{grid.url}/submit", data={}).status_code == 403
        assert client.get(f"{grid.url}/upload").status_code == 403
        assert client.get(f"{grid.url}/form.xlsx").status_code == (200 if user == "boss" else 403)
    assert stored(grid.units[0]) is None
    # the viewer's way in: 填报 lists the counties, and each opens read-only
    choose = client.get("/filing/?region=440705", follow_redirects=True).get_data(as_text=True)
    assert "仅查看" in choose and "hx-post" not in choose.split('id="submit-panel"')[0]
    assert 'disabled' in choose and "上传Excel" not in choose
    assert "提交</button>" not in choose


def columns(grid):
    return [Column(i.key, i.label, i.part_of) for i in grid.campaign.indicators]


def test_download_holds_the_current_values(client, grid):
    grid.fill_all()
    answer = client.get(f"{grid.url}/form.xlsx")
    assert answer.status_code == 200 and answer.mimetype.endswith("spreadsheetml.sheet")
    parsed = read_progress_form(answer.data, columns(grid))
    assert len(parsed.rows) == len(grid.units)
    line, code, values = parsed.rows[0]
    assert code == grid.units[0].code and values["enrolled"] == 2000


def column_of(sheet, label):
    """The column of a heading in the form's two header rows (3 and 4)."""
    for row in (3, 4):
        for cell in sheet[row]:
            if cell.value == label:
                return cell.column
    raise AssertionError(f"no column {label}")


def test_upload_with_errors_reports_rows_and_saves_nothing(client, grid):
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(client.get(f"{grid.url}/form.xlsx").data))
    sheet = book.active
    enrolled_col = column_of(sheet, "居民医保已参保人数")
    sheet.cell(5, enrolled_col).value = 1000
    sheet.cell(6, enrolled_col).value = -7
    out = io.BytesIO()
    book.save(out)
    answer = client.post(f"{grid.url}/upload", data={"workbook": (io.BytesIO(out.getvalue()), "form.xlsx")},
                         content_type="multipart/form-data")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "<td class=\"num\">6</td><td>居民医保已参保人数</td>" in html and "不能为负数" in html
    assert stored(grid.units[0]) is None


def test_upload_of_a_filled_form_saves_drafts(client, grid):
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(client.get(f"{grid.url}/form.xlsx").data))
    sheet = book.active
    sheet.cell(5, column_of(sheet, "居民医保已参保人数")).value = 1234
    out = io.BytesIO()
    book.save(out)
    answer = client.post(f"{grid.url}/upload", data={"workbook": (io.BytesIO(out.getvalue()), "form.xlsx")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303
    assert stored(grid.units[0]).v3 == 1234


@pytest.mark.parametrize("content", [b"not a workbook", b"PK\x03\x04broken zip"])
def test_upload_of_a_bad_file_is_refused_in_chinese(client, grid, content):
    answer = client.post(f"{grid.url}/upload", data={"workbook": (io.BytesIO(content), "form.xlsx")},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "未导入任何数据" in answer.get_data(as_text=True)


def test_a_unit_name_and_an_indicator_label_are_escaped_in_every_cell(client, grid):
    """The grid prints its cells without autoescape (GridRow escapes their strings once): a name or
    a label with markup in it must still arrive as text, in the row and in each cell's aria-label."""
    unit = grid.units[0]
    unit.name = '<b onmouseover="x">甲&乙</b>'
    grid.campaign.indicators[0].label = '常住<i>人口</i>"'
    db.session.commit()
    html = client.get(grid.url).get_data(as_text=True)
    row = html[html.index(f'id="u-{unit.code}"'):]
    row = row[:row.index("</tr>")]
    assert "<b " not in row and "<i>" not in row and 'onmouseover="x"' not in row
    assert "&lt;b onmouseover=&#34;x&#34;&gt;甲&amp;乙&lt;/b&gt;" in row
    assert 'aria-label="&lt;b onmouseover=&#34;x&#34;&gt;甲&amp;乙&lt;/b&gt; 常住&lt;i&gt;人口&lt;/i&gt;&#34;"' in row


def test_a_viewer_is_offered_to_view_not_to_fill(client, auth, jiangmen, frozen_now):
    create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1), end=dt.date(2022, 12, 31),
                    first_due=dt.date(2022, 10, 1))
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    make_user("viewer", "viewer", "4407")
    make_user("admin", "city_admin", "4407")
    auth.login("viewer")
    page = client.get("/filing/").get_data(as_text=True)
    assert "选择要查看的县（市、区）" in page and "代填" not in page
    auth.logout()
    auth.login("admin")
    assert "选择要查看或代填的县（市、区）" in client.get("/filing/").get_data(as_text=True)


def test_the_grid_and_its_workbook_have_the_same_column_order(client, grid):
    from openpyxl import load_workbook
    page = client.get(grid.url).get_data(as_text=True)
    head = page[page.index("<thead>"):page.index("</thead>")]
    order = lambda labels, text: sorted(labels, key=lambda label: text.index(label))  # noqa: E731
    labels = [i.label for i in grid.campaign.indicators if not i.part_of] + ["居民医保参保率"]
    sheet = load_workbook(io.BytesIO(client.get(f"{grid.url}/form.xlsx").data)).active
    in_sheet = sorted(labels, key=lambda label: column_of(sheet, label))
    assert order(labels, head) == in_sheet
    # 参保率 right after 已参保 and its 其中 parts, before 大学生, as in seed 002's form
    assert in_sheet.index("居民医保参保率") < in_sheet.index("大学生参保人数")
    row = page[page.index(f'id="u-{grid.units[0].code}"'):]
    row = row[:row.index("</tr>")]
    assert row.index(f'id="rate-{grid.units[0].code}"') < row.index("college_enrolled")


# --- rows rendered once, shared by every reload (Redis) ---------------------------------------

@pytest.fixture
def counted_rows(monkeypatch):
    """The grid rows really rendered for the page (not served as stored), by unit code."""
    from flask import get_template_attribute

    from reporting.filing import grid as filing_grid
    rendered = []

    def counting(template, name):
        macro = get_template_attribute(template, name)

        def render(row, *args):
            rendered.append(row.unit.code)
            return macro(row, *args)
        return render
    monkeypatch.setattr(filing_grid, "get_template_attribute", counting)
    return rendered


def rows_of(page: str) -> str:
    return page[page.index('<tbody>'):page.index('</tbody>')]


def test_rows_are_rendered_once_and_again_only_where_a_write_changed_them(
        jobs_app, client, grid, counted_rows):  # noqa: F811
    grid.fill_all()
    first = client.get(grid.url).get_data(as_text=True)
    assert sorted(counted_rows) == sorted(u.code for u in grid.units)
    counted_rows.clear()
    again = client.get(grid.url).get_data(as_text=True)
    assert counted_rows == [] and rows_of(again) == rows_of(first)

    # another filer of the county (the information system) corrects one village: only its row is
    # rendered again, and every reader sees the new value at once
    unit = grid.units[3]
    import_reports(grid.period, [(1, unit.code, {**FULL, "enrolled": 2345}, {})], submit=False)
    db.session.commit()
    page = client.get(grid.url).get_data(as_text=True)
    assert counted_rows == [unit.code]
    row = page[page.index(f'id="u-{unit.code}"'):]
    row = row[:row.index("</tr>")]
    assert 'name="enrolled" value="2345"' in row and 'name="revision" value="2"' in row

    # the page is the one rendered without any stored row
    jobs_app.config["REDIS_URL"] = None
    assert rows_of(client.get(grid.url).get_data(as_text=True)) == rows_of(page)


def test_a_viewer_is_served_read_only_rows_never_the_filers(jobs_app, client, auth, grid):  # noqa: F811
    grid.fill_all()
    assert "hx-post=" in rows_of(client.get(grid.url).get_data(as_text=True))
    make_user("leader", "viewer", "4407")
    auth.logout()
    auth.login("leader")
    rows = rows_of(client.get(grid.url).get_data(as_text=True))
    assert "hx-post=" not in rows and rows.count(" disabled>") >= len(grid.units)


def test_held_typing_is_laid_over_the_stored_rows_for_its_county_only(jobs_app, client, auth, grid, app):  # noqa: F811
    grid.fill_all()
    make_user("heshan", "county_filer", "440784")
    client.get(grid.url)  # every row stored
    unit = grid.units[0]
    client.post(grid.unit_url(unit), headers=HX, data={"enrolled": "abc", "revision": "1"})
    held_row = client.get(grid.url).get_data(as_text=True)
    held_row = held_row[held_row.index(f'id="u-{unit.code}"'):]
    assert 'value="abc"' in held_row[:held_row.index("</tr>")] and "未保存" in held_row[:held_row.index("</tr>")]

    other = app.test_client()  # another county's filer: nothing of 新会区's typing
    other.post("/login", data={"username": "heshan", "password": "correct-horse-battery"})
    theirs = other.get(f"/filing/{grid.period.id}/440784").get_data(as_text=True)
    assert 'value="abc"' not in theirs and "未保存" not in theirs

    # discarded: the row shows its saved values again, not the typing the page once laid over it
    client.post(f"{grid.unit_url(unit)}/discard")
    page = client.get(grid.url).get_data(as_text=True)
    row = page[page.index(f'id="u-{unit.code}"'):]
    row = row[:row.index("</tr>")]
    assert 'value="abc"' not in row and 'name="enrolled" value="2000"' in row and "未保存" not in row


def test_a_correction_reads_and_writes_each_thing_once(client, grid):
    """A row save runs on every keystroke: a correction of a submitted report reads the sign-in, the
    grid's regions, the period with its campaign and form, the report, the unit's neighbourhood and
    the answer's totals once each, and writes the report, the tally, the versions, the audit entry
    (after the chain's lock and head), the revision and the release of held typing: 14 statements,
    none of them the campaign's periods or form on their own."""
    from sqlalchemy import event
    grid.fill_all()
    client.post(f"{grid.url}/submit", data={"filer_name": "黄丽华", "filer_phone": "13802216103",
                                            "filer_head": "张局长"})
    unit = grid.units[0]
    url = grid.unit_url(unit)
    client.post(url, data={"enrolled": "2100", "revision": "2", "reason": "补录"}, headers=HX)
    db.session.remove()  # a worker starts each request with an empty session; the tests share one
    seen = []
    listener = lambda *args: seen.append(" ".join(args[2].split()))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        answer = client.post(url, data={"enrolled": "2110", "revision": "3", "reason": "补录"},
                             headers=HX)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert stored(region_by_code(url.rsplit("/", 1)[1])).v3 == 2110 and 'name="revision" value="4"' in answer.get_data(as_text=True)
    assert not [s for s in seen if "FROM indicator" in s or s.startswith("SELECT period.") and "JOIN" not in s]
    assert len(seen) == 14, "\n".join(seen)
