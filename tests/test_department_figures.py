"""Departments are treated like units: the same warnings, a completion above 100% flagged (never green),
a 待办 of overdue and due periods, and 待报 before the due date."""
import datetime as dt

from reporting.departments.departments import add_department, add_indicator, department_progress
from reporting.extensions import db
from reporting.filing.filing import save_report
from reporting.regions.hierarchy import region_by_code

from .conftest import make_user
from .fixtures.departments import COUNTY, FILER


def test_a_department_form_warns_at_once_of_enrolled_above_should(two_departments, client, auth):
    campaign, minzheng, _ = two_departments
    period = campaign.periods[0]
    auth.login("minzheng")
    saved = client.post(f"/departments/{minzheng.id}/{period.id}", data={
        "hardship_should": "320", "hardship_enrolled": "350", "action": "save",
        "filer_name": FILER["name"], "filer_phone": FILER["phone"], "filer_head": FILER["head"]})
    text = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "请核实以下" in text and "（350）大于" in text and "（320）" in text


def test_a_department_s_own_group_gets_the_same_rule(two_departments):
    campaign, _, _ = two_departments
    add_indicator(campaign, "veteran_should", "优抚对象应参保人数")
    add_indicator(campaign, "veteran_enrolled", "优抚对象已参保人数")
    tuijun = add_department(campaign, "区退役军人事务局", ["veteran_should", "veteran_enrolled"])
    db.session.commit()
    outcome = save_report(campaign.periods[0], tuijun.region, {"veteran_should": 320, "veteran_enrolled": 350},
                          FILER, user=None, submit=False, department=tuijun)
    assert any("优抚对象已参保人数（350）大于优抚对象应参保人数（320）" in w.message for w in outcome.warnings)


def test_a_completion_above_100_percent_is_flagged_never_green(two_departments, client, auth):
    campaign, minzheng, _ = two_departments
    period = campaign.periods[0]
    minzheng.task = 38
    save_report(period, minzheng.region, {"hardship_should": 320, "hardship_enrolled": 300}, FILER,
                user=None, submit=True, department=minzheng)
    db.session.commit()
    standing = next(d for d in department_progress(period, region_by_code(COUNTY), dt.datetime(2022, 10, 5, 11))
                    if d.department.id == minzheng.id)
    assert standing.completion > 7 and standing.light != "green"
    assert standing.as_json()["anomalies"] == ["完成率超过100%，请核实"]
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    board = client.get(f"/dashboard/{COUNTY}?period={period.id}").get_data(as_text=True)
    section = board[board.index('id="departments"'):]
    row = section[section.index("区民政局"):]
    row = row[:row.index("</tr>")]
    assert "light-green" not in row and "完成率超过100%，请核实" in row


def test_a_department_filer_s_home_lists_overdue_and_due_periods(two_departments, client, auth, frozen_now):
    campaign, minzheng, _ = two_departments
    first, second = campaign.periods[0], campaign.periods[1]
    frozen_now(dt.datetime.combine(second.due, dt.time(9, 0)))  # period 1 overdue, period 2 due today
    auth.login("minzheng")
    home = client.get("/").get_data(as_text=True)
    assert "暂无待办" not in home
    assert f"{first.label}已逾期，尚未报送" in home
    assert f"{second.label}尚未报送，{second.due.month}月{second.due.day}日截止" in home


def test_departments_read_pending_before_the_due_date(two_departments, client, auth):
    campaign, minzheng, _ = two_departments
    period = campaign.periods[0]
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    board = client.get(f"/dashboard/{COUNTY}?period={period.id}").get_data(as_text=True)
    section = board[board.index('id="departments"'):]
    assert "待报" in section and "未报</span>" not in section
    auth.logout()
    auth.login("minzheng")
    form = client.get(f"/departments/{minzheng.id}/{period.id}").get_data(as_text=True)
    assert '<strong class="badge amber">待报</strong>' in form
