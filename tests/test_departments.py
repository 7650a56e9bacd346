"""Departments (条线): their own keys, late and missing, carried figures, scope, and never in a regional sum."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from reporting.extensions import db
from reporting.models import Department, Report, Tally
from reporting.progress import tally
from reporting.regions.hierarchy import region_by_code

from .fixtures.departments import COUNTY, FILER, TOWN, TOWN_VALUES, last_line


def test_cli_makes_departments_and_their_filers(county_api, runner):
    department = db.session.get(Department, county_api.ids["区民政局"])
    assert department.region.code == COUNTY and department.indicator_keys == ["hardship_should", "hardship_enrolled"]
    assert department.measure == "hardship_enrolled"
    refused = runner.invoke(args=["departments", "add", str(county_api.campaign.id), "--name", "区残联",
                                  "--indicators", "disabled_enrolled"])
    assert refused.exit_code != 0 and "disabled_enrolled" in refused.output and "不在" in refused.output
    twice = runner.invoke(args=["departments", "add", str(county_api.campaign.id), "--name", "区民政局",
                                "--indicators", "enrolled"])
    assert twice.exit_code != 0 and "已有部门" in twice.output
    no_department = runner.invoke(args=["users", "create", "x", "--role", "department_filer", "--region", COUNTY])
    assert no_department.exit_code != 0 and "--department" in no_department.output
    elsewhere = runner.invoke(args=["users", "create", "x", "--role", "department_filer", "--department",
                                    str(department.id), "--region", "440703"])
    assert elsewhere.exit_code != 0 and "不在 440703" in elsewhere.output
    no_region = runner.invoke(args=["users", "create", "x", "--role", "county_filer", "--department", str(department.id)])
    assert no_region.exit_code != 0 and "--region" in no_region.output
    # the department-only indicator is not on the towns' form
    assert "paid" not in [i.key for i in county_api.campaign.indicators]
    assert "paid" in [i.key for i in county_api.campaign.all_indicators]


def test_a_key_outside_the_department_is_refused(county_api):
    answer = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                         {"values": {"hardship_should": 900, "hardship_enrolled": 800, "enrolled": 5},
                          "filer": FILER, "submit": True})
    assert answer.status_code == 422
    assert [(e["field"], e["message"]) for e in answer.get_json()["errors"]] == [("enrolled", "“enrolled”不是本表的指标")]
    assert db.session.scalar(select(func.count(Report.id))) == 0  # nothing saved
    # nor may a town file the department-only key
    town = county_api.call("PUT", county_api.town_url(), "shadui", {"values": {"paid": 5}})
    assert town.status_code == 422 and town.get_json()["errors"][0]["field"] == "paid"


def test_department_files_and_submits_through_the_same_rules(county_api):
    negative = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                               {"values": {"hardship_should": 900, "hardship_enrolled": -1}, "filer": FILER,
                                "submit": True})
    assert negative.status_code == 422  # a negative count is an error here too
    assert negative.get_json()["errors"][0]["message"] == "困难群众已参保人数不能为负数"
    unsigned = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                           {"values": {"hardship_should": 900, "hardship_enrolled": 870}, "submit": True})
    assert {e["field"] for e in unsigned.get_json()["errors"]} >= {"filer.name", "filer.phone"}
    answer = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                         {"values": {"hardship_should": 900, "hardship_enrolled": 870}, "filer": FILER,
                          "submit": True})
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["status"] == "submitted" and body["values"] == {"hardship_should": 900, "hardship_enrolled": 870}
    assert body["department_id"] == county_api.ids["区民政局"] and body["late"] is False and body["revision"] == 1
    # a change to a submitted report needs a reason and makes a revision, as for a town
    no_reason = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                            {"values": {"hardship_enrolled": 880}, "revision": 1})
    assert no_reason.status_code == 422 and no_reason.get_json()["errors"][0]["field"] == "reason"
    stale = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_enrolled": 880}, "reason": "补录", "revision": 0})
    assert stale.status_code == 409
    fixed = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_enrolled": 880}, "reason": "补录", "revision": 1})
    assert fixed.status_code == 200 and fixed.get_json()["revision"] == 2
    read = county_api.call("GET", county_api.dept_url("区民政局"), "xinhui").get_json()
    assert read["values"]["hardship_enrolled"] == 880 and read["filer"] == FILER


def test_department_figures_never_enter_a_regional_total(county_api):
    town = county_api.call("PUT", county_api.town_url(), "xinhui",
                           {"values": TOWN_VALUES, "filer": FILER, "submit": True})
    assert town.status_code == 200, town.get_json()
    before = county_api.progress()
    for username, department, values in (
            ("minzheng", "区民政局", {"hardship_should": 5000, "hardship_enrolled": 4900}),
            ("jiaoyu", "区教育局", {"students_enrolled": 60000, "college_enrolled": 3000}),
            ("shuiwu", "区税务局", {"paid": 250000})):
        answer = county_api.call("PUT", county_api.dept_url(department), username,
                             {"values": values, "filer": FILER, "submit": True})
        assert answer.status_code == 200, answer.get_json()
    after = county_api.progress()
    assert after["region"]["totals"] == before["region"]["totals"] == TOWN_VALUES
    assert after["children"] == before["children"]
    # the city above sums the towns only, too
    city = county_api.call("GET", f"/api/v1/progress/4407?period={county_api.periods[0].id}", "admin").get_json()
    assert city["region"]["totals"]["hardship_should"] == 800 and "paid" not in city["region"]["totals"]
    # no tally row holds a department's figures: the stored tallies are the towns' recount
    assert tally.stored(county_api.periods[0]) == tally.recount(county_api.periods[0])
    assert db.session.scalar(select(func.sum(Tally.s4))) == 800
    departments = {d["name"]: d for d in after["departments"]}
    assert departments["区民政局"]["totals"] == {"hardship_should": 5000, "hardship_enrolled": 4900}
    assert departments["区教育局"]["totals"] == {"students_enrolled": 60000, "college_enrolled": 3000}
    assert departments["区税务局"]["totals"] == {"paid": 250000}
    assert departments["区民政局"]["rate"] == pytest.approx(0.98)


def test_late_missing_pending_and_carried_figures(county_api, frozen_now):
    first, second = county_api.periods[0], county_api.periods[1]
    assert {d["late"] for d in county_api.progress()["departments"]} == {"pending"}
    county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                {"values": {"hardship_should": 900, "hardship_enrolled": 700}, "filer": FILER, "submit": True})
    frozen_now(dt.datetime.combine(first.due + dt.timedelta(days=1), dt.time(9, 0)))  # after the due day
    late = county_api.call("PUT", county_api.dept_url("区教育局"), "jiaoyu",
                       {"values": {"students_enrolled": 100, "college_enrolled": 5}, "filer": FILER, "submit": True})
    assert late.get_json()["late"] is True
    states = {d["name"]: d for d in county_api.progress()["departments"]}
    assert (states["区民政局"]["late"], states["区教育局"]["late"], states["区税务局"]["late"]) == \
        ("on_time", "late", "missing")
    assert states["区税务局"]["totals"] == {"paid": 0} and states["区税务局"]["status"] == "missing"
    assert county_api.call("GET", county_api.dept_url("区税务局"), "shuiwu").get_json()["late"] is True

    # period 2, past its due day: 民政局 did not file it and carries period 1's figures forward
    frozen_now(dt.datetime.combine(second.due + dt.timedelta(days=1), dt.time(9, 0)))
    states = {d["name"]: d for d in county_api.progress(period=1)["departments"]}
    assert states["区民政局"]["late"] == "missing"
    assert states["区民政局"]["carried_from"] == first.id
    assert states["区民政局"]["totals"] == {"hardship_should": 900, "hardship_enrolled": 700}


def test_department_task_from_the_target_table(county_api, runner, tmp_path):
    table = tmp_path / "任务分解表.csv"
    table.write_text(f"单位代码,单位名称,任务数\n,沙堆镇,25000\n,区民政局,900\nBM{county_api.ids['区教育局']},,4000\n",
                     encoding="utf-8")
    result = runner.invoke(args=["targets", "import", str(county_api.campaign.id), str(table)])
    assert result.exit_code == 0, result.output
    assert db.session.get(Department, county_api.ids["区民政局"]).task == 900
    assert db.session.get(Department, county_api.ids["区教育局"]).task == 4000  # by its workbook code
    county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                {"values": {"hardship_should": 900, "hardship_enrolled": 450}, "filer": FILER, "submit": True})
    minzheng = next(d for d in county_api.progress()["departments"] if d["name"] == "区民政局")
    assert minzheng["task"] == 900 and minzheng["completion"] == pytest.approx(0.5)
    # the department's task is not a town's: the county's task is its towns' alone
    county_api.call("PUT", county_api.town_url(), "xinhui", {"values": TOWN_VALUES, "filer": FILER, "submit": True})
    assert county_api.progress()["region"]["completion"] == pytest.approx(20000 / 25000)


@pytest.mark.parametrize("user, method, target, allowed", [
    ("minzheng", "GET", "own", True), ("minzheng", "PUT", "own", True),
    ("minzheng", "GET", "other", False), ("minzheng", "PUT", "other", False),
    ("minzheng", "GET", "town", False), ("minzheng", "PUT", "town", False),
    ("minzheng", "GET", "progress", False),
    ("shadui", "GET", "own", False), ("shadui", "PUT", "own", False),
    ("xinhui", "GET", "own", True), ("xinhui", "PUT", "own", False),
    ("boss", "GET", "own", True), ("boss", "PUT", "own", False),
    ("admin", "PUT", "own", True),
])
def test_scope_of_department_and_town_filers(county_api, user, method, target, allowed):
    url = {"own": county_api.dept_url("区民政局"), "other": county_api.dept_url("区教育局"), "town": county_api.town_url(),
           "progress": f"/api/v1/progress/{COUNTY}?period={county_api.periods[0].id}"}[target]
    values = {"own": {"hardship_should": 10}, "other": {"students_enrolled": 10},
              "town": {"population": 10}}.get(target, {})
    answer = county_api.call(method, url, user, {"values": values} if method == "PUT" else None)
    if allowed:
        assert answer.status_code == 200, answer.get_json()
    else:
        assert answer.status_code == 403, answer.get_json()
        assert db.session.scalar(select(func.count(Report.id))) == 0


def test_a_report_is_a_region_s_or_a_department_s_never_both(county_api):
    period = county_api.periods[0]
    db.session.add(Report(period_id=period.id, region_id=region_by_code(TOWN).id,
                          department_id=county_api.ids["区民政局"], status="draft"))
    with pytest.raises(Exception):
        db.session.flush()
    db.session.rollback()


def test_unknown_department_foreign_period_and_region_outside(county_api, runner):
    from reporting.campaigns.campaigns import create_campaign
    other, _ = create_campaign(name="蓬江区2023年度", root=region_by_code("440703"), start=dt.date(2022, 9, 1),
                               end=dt.date(2022, 12, 31), rhythm="weekly", report_level="township")
    db.session.commit()
    unknown = county_api.call("GET", f"/api/v1/departments/999/reports/{county_api.periods[0].id}", "admin")
    assert unknown.status_code == 404 and unknown.get_json()["errors"][0]["message"] == "部门 999 不存在"
    foreign = county_api.call("GET", f"/api/v1/departments/{county_api.ids['区民政局']}/reports/{other.periods[0].id}",
                          "minzheng")
    assert foreign.status_code == 404 and "不属于区民政局" in foreign.get_json()["errors"][0]["message"]
    outside = runner.invoke(args=["departments", "add", str(county_api.campaign.id), "--name", "蓬江区民政局",
                                  "--indicators", "hardship_should", "--region", "440703"])
    assert outside.exit_code != 0 and "不在征缴期" in outside.output
    at_town = runner.invoke(args=["departments", "add", str(county_api.campaign.id), "--name", "沙堆镇民政办",
                                  "--indicators", "hardship_should,hardship_enrolled", "--region", TOWN])
    department_id = int(last_line(at_town))
    # a department lists under the region it sits at, not under the county above
    town = county_api.call("GET", f"/api/v1/progress/{TOWN}?period={county_api.periods[0].id}", "xinhui").get_json()
    assert [d["id"] for d in town["departments"]] == [department_id]
    assert department_id not in [d["id"] for d in county_api.progress()["departments"]]
