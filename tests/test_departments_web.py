"""A department's pages: its one-row form, XLSX, history; the 部门 section, status board and 通报 paragraph."""
import datetime as dt
import io
import re

from openpyxl import load_workbook

from reporting.circulars.circulars import build_document, draft_body
from reporting.extensions import db
from reporting.filing.filing import find_report, save_report
from reporting.models import Department, User
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code

from .conftest import make_user
from .fixtures.departments import COUNTY, FILER, TOWN


def file_minzheng(period, minzheng):
    """区民政局's filer submits 900 / 870 for the period."""
    user = db.session.scalar(db.select(User).where(User.username == "minzheng"))
    save_report(period, minzheng.region, {"hardship_should": 900, "hardship_enrolled": 870}, FILER, user=user,
                submit=True, department=minzheng)


def grid_url(department, period):
    return f"/departments/{department.id}/{period.id}"


def test_filer_files_its_row_and_submits(client, auth, two_departments):
    campaign, minzheng, _ = two_departments
    period = campaign.periods[0]
    auth.login("minzheng")
    home = client.get("/").get_data(as_text=True)
    assert "区民政局" in home and "尚未填报" in home and "沙堆镇" not in home
    assert client.get("/filing/").location.endswith(grid_url(minzheng, period))
    page = client.get(grid_url(minzheng, period))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in text and "困难群众应参保人数" in text
    assert "常住人口数" not in text  # only its own indicators
    fragment = client.get(grid_url(minzheng, period), headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and 'id="report-form"' in fragment.get_data(as_text=True)
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]

    draft = client.post(grid_url(minzheng, period), data={"hardship_should": "900", "action": "save"},
                        headers={"HX-Request": "true"})
    assert draft.status_code == 204 and draft.headers["HX-Redirect"].endswith(grid_url(minzheng, period))
    assert find_report(period, minzheng.region, minzheng).status == "draft"
    unsigned = client.post(grid_url(minzheng, period), data={"hardship_enrolled": "870", "action": "submit",
                                                             "filer_name": "", "filer_phone": ""})
    assert unsigned.status_code == 422 and "请填写填表人" in unsigned.get_data(as_text=True)
    done = client.post(grid_url(minzheng, period), data={
        "hardship_should": "900", "hardship_enrolled": "870", "action": "submit", "revision": "1",
        "filer_name": FILER["name"], "filer_phone": FILER["phone"], "filer_head": FILER["head"]})
    assert done.status_code == 303
    report = find_report(period, minzheng.region, minzheng)
    assert report.status == "submitted" and report.values(minzheng.indicators()) == \
        {"hardship_should": 900, "hardship_enrolled": 870}
    assert "已提交" in client.get(grid_url(minzheng, period)).get_data(as_text=True)
    history = client.get(f"{grid_url(minzheng, period)}/history").get_data(as_text=True)
    assert "首次提交" in history and "870" in history

    workbook = client.get(f"{grid_url(minzheng, period)}/form.xlsx")
    cells = [c.value for sheet in load_workbook(io.BytesIO(workbook.data)).worksheets
             for row in sheet.iter_rows() for c in row]
    assert "区民政局" in cells and 870 in cells and "困难群众已参保人数" in cells


def test_upload_of_the_downloaded_workbook(client, auth, two_departments):
    campaign, minzheng, _ = two_departments
    period = campaign.periods[0]
    auth.login("minzheng")
    data = client.get(f"{grid_url(minzheng, period)}/form.xlsx").data
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    for row in sheet.iter_rows():
        if row[0].value == f"BM{minzheng.id}":
            row[2].value, row[3].value = 1000, 950
    out = io.BytesIO()
    book.save(out)
    answer = client.post(f"{grid_url(minzheng, period)}/upload",
                         data={"workbook": (io.BytesIO(out.getvalue()), "民政.xlsx")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert find_report(period, minzheng.region, minzheng).values(minzheng.indicators()) == \
        {"hardship_should": 1000, "hardship_enrolled": 950}


def test_department_pages_refuse_others(client, auth, two_departments):
    campaign, minzheng, shuiwu = two_departments
    period = campaign.periods[0]
    auth.login("minzheng")
    assert client.get(grid_url(shuiwu, period)).status_code == 403
    assert client.get(f"/dashboard/{COUNTY}").status_code == 403
    assert client.get(f"/filing/{period.id}/{COUNTY}").status_code == 403
    auth.logout()
    auth.login("xinhui")  # the county's filer files its towns, not the departments
    assert client.post(grid_url(minzheng, period), data={"hardship_should": "1", "action": "save"}).status_code == 403


def test_dashboard_status_board_and_circular_name_the_late_department(client, auth, two_departments, frozen_now):
    campaign, minzheng, shuiwu = two_departments
    period = campaign.periods[0]
    file_minzheng(period, minzheng)
    save_report(period, region_by_code(TOWN), {"population": 3000, "should_enroll": 2600, "enrolled": 2000,
                                               "hardship_should": 80, "hardship_enrolled": 78,
                                               "students_enrolled": 400, "newborns_enrolled": 20,
                                               "college_enrolled": 0}, FILER, user=None, submit=True)
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 9, 9, 0))  # the day after the due day: 区税务局 is late
    auth.login("xinhui")
    page = client.get(f"/dashboard/{COUNTY}?period={period.id}").get_data(as_text=True)
    section = page[page.index('id="departments"'):]
    assert "区民政局" in section and "870" in section and "96.67%" in section  # 870 / 900
    assert "区税务局" in section and "逾期未报" in section
    board = page[page.index("status-board"):page.index('id="departments"')]
    assert "沙堆镇" in board and "区民政局" in board and "区税务局" in board
    # the county's own numbers hold the town only
    assert progress(period, region_by_code(COUNTY)).region.totals.values["hardship_should"] == 80

    body = draft_body(progress(period, region_by_code(COUNTY)))
    assert "三、部门报送情况" in body and "四、存在问题" in body and "五、下一步工作要求" in body
    paragraph = body.split("三、部门报送情况\n")[1].split("\n")[0]
    assert "区税务局未按时报送参保缴费进度，予以通报批评" in paragraph
    assert "区民政局困难群众已参保870人" in paragraph  # its people named by its indicator
    doc = build_document(period, region_by_code(COUNTY), title="通报", body=body, issue_no=1, doc_prefix="新医保",
                         doc_year=2022, doc_seq=1, date=dt.date(2022, 10, 9))
    table = next(a.table for a in doc.attachments if "部门报送情况表" in a.title)
    assert [row[0] for row in table.rows] == ["区民政局", "区税务局"]
    # one short state a row, in 附件1's column order, and a late department never green
    assert table.rows[1][-1] == "未报" and table.rows[0][-1] == "按时"
    assert table.header[1:3] == ["任务数", "已参保（缴费）人数"] and table.rows[1][table.header.index("进度")] != "绿"


def test_no_department_keeps_the_circular_as_it_was(two_departments):
    campaign, _, _ = two_departments
    for department in db.session.scalars(db.select(Department)):
        department.region = region_by_code(TOWN)  # none sits at the county any more
    db.session.flush()
    body = draft_body(progress(campaign.periods[0], region_by_code(COUNTY)))
    assert "部门报送情况" not in body and "三、存在问题" in body and "四、下一步工作要求" in body


def test_admin_edits_and_disables_a_department_filer(client, auth, two_departments):
    campaign, minzheng, _ = two_departments
    make_user("admin", "city_admin", "4407")
    user = db.session.scalar(db.select(User).where(User.username == "minzheng"))
    auth.login("admin")
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert re.search(r'<option (selected value="department_filer"|value="department_filer" selected)', page)
    kept = client.post(f"/admin/users/{user.id}", data={"full_name": "民政新填报员", "phone": "13800000011",
                                                         "role": "department_filer", "region": COUNTY})
    assert kept.status_code == 303
    moved = client.post(f"/admin/users/{user.id}", data={"full_name": "x", "phone": "", "role": "department_filer",
                                                          "region": TOWN, "active": "y"})
    assert moved.status_code == 422 and "部门填报员须用" in moved.get_data(as_text=True)
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.full_name == "民政新填报员" and not user.active and user.department_id == minzheng.id


def test_the_reminder_list_names_departments_with_their_filers(client, auth, two_departments):
    campaign, minzheng, shuiwu = two_departments
    period = campaign.periods[0]
    file_minzheng(period, minzheng)
    db.session.commit()
    auth.login("xinhui")
    for headers in ({}, {"HX-Request": "true"}):
        answer = client.get(f"/dashboard/{COUNTY}/missing?period={period.id}", headers=headers)
        text = answer.get_data(as_text=True)
        assert ("<html" in text) is not bool(headers)
        listed = text[text.index("<tbody>"):]
        assert "区税务局" in listed and "区民政局" not in listed  # 民政局 has submitted


def test_the_ranking_workbook_has_the_departments_on_their_own_sheet(client, auth, two_departments):
    campaign, minzheng, _ = two_departments
    period = campaign.periods[0]
    file_minzheng(period, minzheng)
    db.session.commit()
    auth.login("xinhui")
    book = load_workbook(io.BytesIO(client.get(f"/dashboard/{COUNTY}/ranking.xlsx?period={period.id}").data))
    assert book.sheetnames == ["排名表", "部门报送情况"]
    rows = [[c.value for c in row] for row in book["部门报送情况"].iter_rows()]
    assert rows[1][:2] == ["区民政局", "困难群众应参保人数900；困难群众已参保人数870"]
    assert rows[1][6] == "按时" and rows[2][0] == "区税务局" and rows[2][6] == "待报"  # the words of the units' sheet
    ranking = [c.value for row in book["排名表"].iter_rows() for c in row]
    assert "区民政局" not in ranking
