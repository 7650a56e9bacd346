"""Filing that saves a county's afternoon: carried values, a refusal that points at the problem, honest
upload messages, the real 填表时间, and the Excel round trip of all of these."""
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.carry import carried_values
from reporting.filing.filing import import_reports
from reporting.models import Region, Report
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import make_user

HX = {"HX-Request": "true"}
FULL = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
        "hardship_enrolled": 80, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
FOOTER = {"filer_name": "黄丽华", "filer_phone": "13802216103", "filer_head": "张局长"}


@pytest.fixture
def second(client, auth, jiangmen, frozen_now):
    """新会区 in 第2期: every village submitted 第1期 (each its own 常住人口), nothing filed yet."""
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    units = list(db.session.scalars(descendants_at(region_by_code("440705"), "village").order_by(Region.code)))
    first, period = campaign.periods[0], campaign.periods[1]
    frozen_now(dt.datetime(2022, 10, 6, 10, 0))
    import_reports(first, [(n, u.code, {**FULL, "population": 3000 + n}, {}) for n, u in enumerate(units)],
                   submit=True)
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 12, 10, 0))  # 第2期 (截至10月14日) is open
    auth.login("xinhui")

    class Second:
        url = f"/filing/{period.id}/440705"

        def unit_url(self, unit):
            return f"{self.url}/units/{unit.code}"
    s = Second()
    s.campaign, s.first, s.period, s.units = campaign, first, period, units
    return s


def stored(period, unit):
    db.session.expire_all()
    return db.session.scalar(select(Report).where(Report.region_id == unit.id, Report.period_id == period.id))


def cell(html, code, key):
    match = re.search(rf'<input id="c-{code}-{key}"[^>]*>', html)
    assert match, f"no cell {code} {key}"
    return match.group(0)


def test_a_new_period_opens_with_the_carried_values(client, second):
    html = client.get(second.url).get_data(as_text=True)
    unit = second.units[2]
    population = cell(html, unit.code, "population")
    assert 'value="3002"' in population and 'class="carried"' in population and "沿用上期" in population
    assert 'value="2600"' in cell(html, unit.code, "should_enroll")
    assert 'value="80"' in cell(html, unit.code, "hardship_should")
    # the cumulative counts are typed every period
    for key in ("enrolled", "hardship_enrolled", "students_enrolled", "newborns_enrolled", "college_enrolled"):
        assert 'value=""' in cell(html, unit.code, key) and "carried" not in cell(html, unit.code, key)
    assert stored(second.period, unit) is None  # shown, not yet filed


def test_typing_only_the_counts_files_the_carried_values_without_a_warning(client, second):
    unit = second.units[0]
    # what the row posts: its carried cells as shown, and the counts typed
    row = {"population": "3000", "should_enroll": "2600", "hardship_should": "80", "enrolled": "2100",
           "hardship_enrolled": "80", "students_enrolled": "410", "newborns_enrolled": "21",
           "college_enrolled": "0", "revision": "0"}
    answer = client.post(second.unit_url(unit), data=row, headers=HX)
    html = answer.get_data(as_text=True)
    assert "与上期不同" not in html and "草稿" in html
    assert stored(second.period, unit).values(second.campaign.indicators) == {
        **FULL, "enrolled": 2100, "students_enrolled": 410, "newborns_enrolled": 21}
    # a carried value typed over is compared with the last period, as before
    changed = client.post(second.unit_url(unit), data=row | {"should_enroll": "2700", "revision": "1"},
                          headers=HX).get_data(as_text=True)
    assert "居民医保应参保人数与上期不同（上期2,600人，本期2,700人）" in changed
    page = client.get(second.url).get_data(as_text=True)
    assert "carried" in cell(page, unit.code, "population") and "carried" not in cell(page, unit.code, "should_enroll")


def test_values_carry_from_the_last_submitted_report_even_periods_back(second, frozen_now):
    third = second.campaign.periods[2]
    unit, other = second.units[0], second.units[1]
    import_reports(second.period, [(1, unit.code, {**FULL, "population": 4444, "should_enroll": 2700}, {})],
                   submit=True)
    import_reports(second.period, [(1, other.code, {**FULL, "population": 5555}, {})], submit=False)  # a draft
    db.session.commit()
    ids = [unit.id, other.id]
    carried = carried_values(third, ids)
    assert carried[unit.id] == {"population": 4444, "should_enroll": 2700, "hardship_should": 80}
    assert carried[other.id] == {"population": 3001, "should_enroll": 2600, "hardship_should": 80}  # 第1期
    assert carried_values(second.first, ids) == {}  # nothing before the first period


def test_download_and_upload_carry_the_same_values(client, second):
    data = client.get(f"{second.url}/form.xlsx").data
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.cell(5, 1).value == second.units[0].code
    assert [sheet.cell(5, n).value for n in (3, 4, 5)] == [3000, 2600, None]
    assert sheet.cell(5, 3).font.i and sheet.cell(5, 5).font.i is not True  # carried cells are light
    assert any("沿用上期" in str(c.value) for row in sheet.iter_rows() for c in row if c.value)
    # the filer types the counts of two villages and blanks one carried cell; the rest stays untouched
    sheet.cell(5, 5).value = 2100
    sheet.cell(6, 5).value = 2200
    sheet.cell(6, 3).value = None
    out = io.BytesIO()
    sheet.parent.save(out)
    answer = client.post(f"{second.url}/upload", data={"workbook": (io.BytesIO(out.getvalue()), "form.xlsx")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303
    assert stored(second.period, second.units[1]).values(second.campaign.indicators)["population"] == 3001
    assert stored(second.period, second.units[0]).values(second.campaign.indicators)["enrolled"] == 2100
    assert stored(second.period, second.units[2]) is None  # nothing typed: not a draft
    flash = client.get(second.url).get_data(as_text=True)
    assert "上传完成：新增草稿2个" in flash


def upload(client, second, edit, **form):
    book = load_workbook(io.BytesIO(client.get(f"{second.url}/form.xlsx").data))
    edit(book.active)
    out = io.BytesIO()
    book.save(out)
    return client.post(f"{second.url}/upload", data={"workbook": (io.BytesIO(out.getvalue()), "form.xlsx"), **form},
                       content_type="multipart/form-data")


def test_upload_says_what_it_corrected_and_shows_its_warnings(client, second):
    import_reports(second.period, [(n, u.code, FULL, {}) for n, u in enumerate(second.units[:3])], submit=True)
    db.session.commit()

    def edit(sheet):
        sheet.cell(5, 5).value = 2050  # a submitted unit corrected
        sheet.cell(6, 5).value = 1990  # a submitted unit corrected: below the last period
        for row in (8, 9):  # two new drafts (row 7 stays as it was)
            sheet.cell(row, 5).value = 2100
    answer = upload(client, second, edit, reason="信息系统补录")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "上传完成：更正了2个已提交单位，新增草稿2个，1个单位与系统中一致，未改动" in html
    assert "请核实以下 1 条提示" in html and "比上期减少10人" in html
    assert second.units[1].name in html and f"#u-{second.units[1].code}" in html
    assert stored(second.period, second.units[0]).status == "submitted"
    assert stored(second.period, second.units[0]).revision == 2


def test_a_form_of_another_county_is_refused_once_by_name(client, auth, second):
    make_user("enping", "county_filer", "440785")
    auth.logout()
    auth.login("enping")
    data = client.get(f"/filing/{second.period.id}/440785/form.xlsx").data
    auth.logout()
    auth.login("xinhui")
    answer = client.post(f"{second.url}/upload", data={"workbook": (io.BytesIO(data), "form.xlsx")},
                         content_type="multipart/form-data")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "有 1 处错误" in html and "这是恩平市的进度表" in html and "不是新会区的" in html
    assert "无权填报" not in html


def test_the_footer_of_an_uploaded_draft_is_read_back(client, second):
    def edit(sheet):
        sheet.cell(5, 5).value = 2100
        for row in sheet.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("单位负责人"):
                    c.value = "单位负责人：梁志强"
                elif isinstance(c.value, str) and c.value.startswith("联系电话"):
                    c.value = "联系电话：0750-6612345"
    assert upload(client, second, edit).status_code == 303
    assert stored(second.period, second.units[0]).filer_head == "梁志强"
    html = client.get(second.url).get_data(as_text=True)
    assert 'value="梁志强"' in html and 'value="0750-6612345"' in html


def test_a_refused_submit_lists_rule_errors_first_by_township(client, second):
    units = second.units
    import_reports(second.period, [(n, u.code, FULL, {}) for n, u in enumerate(units[:-3])], submit=False)
    db.session.commit()
    client.post(second.unit_url(units[5]), data={"students_enrolled": "9999", "revision": "1"}, headers=HX)
    answer = client.post(f"{second.url}/submit", data={"filer_name": "黄丽华", "filer_phone": "123",
                                                       "filer_head": ""}, headers=HX)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "有 3 处错误，尚有3个单位未填写，不能提交" in html
    items = re.findall(r"<li[^>]*>(.*?)</li>", html, re.S)
    texts = [re.sub(r"<[^>]+>|\s+", "", item) for item in items]
    township = db.session.get(Region, units[5].parent_id).name
    assert texts[0] == f"{township}·{units[5].name}：中小学生及在园幼儿已参保人数（9,999）不能大于居民医保已参保人数（2,000）"
    assert texts[1].startswith("尚有3个单位未填写")
    assert texts[2] == "签字栏：请填写单位负责人；联系电话“123”不是有效的手机或固定电话号码"
    assert len(texts) == 3


def test_filled_on_is_the_real_submission_day(client, second, frozen_now):
    first_url = f"/filing/{second.first.id}/440705"
    html = client.get(first_url).get_data(as_text=True)
    assert "填表时间：2022年10月6日" in html  # submitted then; today is 10月12日
    sheet = load_workbook(io.BytesIO(client.get(f"{first_url}/form.xlsx").data)).active
    assert any(c.value == "填表时间：2022年10月6日" for row in sheet.iter_rows() for c in row)
    assert "填表时间：2022年10月12日" in client.get(second.url).get_data(as_text=True)  # not submitted yet
