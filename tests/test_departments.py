"""Departments (条线): their own keys, late and missing, carried figures, scope, and never in a regional sum."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from reporting.extensions import db
from reporting.models import Department, Report, Tally
from reporting.progress import tally
from reporting.regions.hierarchy import region_by_code

from .conftest import make_user

COUNTY, TOWN, OTHER_TOWN = "440705", "440705106", "440705105"  # 新会区, 沙堆镇, 崖门镇
FILER = {"name": "王芳", "phone": "13802216188", "head": "李局长"}
TOWN_VALUES = {"population": 30000, "should_enroll": 26000, "enrolled": 20000, "hardship_should": 800,
               "hardship_enrolled": 780, "students_enrolled": 4000, "newborns_enrolled": 200,
               "college_enrolled": 10}

#: the department filers' password, made on the command line (which holds it to the rule)
DEPARTMENT_PASSWORD = "Bumen-filer-2026"


def last_line(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def county(client, runner, jiangmen, frozen_now):
    """新会区, township-level and weekly like seed 004, with 民政局, 教育局 and 税务局 through the CLI."""
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))  # before period 1's due date (10月8日)
    campaign_id = int(last_line(runner.invoke(args=[
        "campaign", "create", "--name", "新会区2023年度", "--root", COUNTY, "--start", "2022-09-01",
        "--end", "2022-12-31", "--rhythm", "weekly", "--first-due", "2022-10-08",
        "--report-level", "township"])))
    assert runner.invoke(args=["indicators", "add", str(campaign_id), "--key", "paid",
                               "--label", "已缴费人数"]).exit_code == 0
    ids = {}
    for name, keys in (("区民政局", "hardship_should,hardship_enrolled"),
                       ("区教育局", "students_enrolled,college_enrolled"), ("区税务局", "paid")):
        ids[name] = int(last_line(runner.invoke(args=["departments", "add", str(campaign_id), "--name", name,
                                                     "--indicators", keys])))
    tokens = {}
    for username, department in (("minzheng", "区民政局"), ("jiaoyu", "区教育局"), ("shuiwu", "区税务局")):
        last_line(runner.invoke(args=["users", "create", username, "--role", "department_filer",
                                      "--department", str(ids[department]), "--password", DEPARTMENT_PASSWORD]))
        tokens[username] = last_line(runner.invoke(args=["users", "token", username]))
    for username, role, code in (("xinhui", "county_filer", COUNTY), ("shadui", "township_filer", TOWN),
                                 ("admin", "city_admin", "4407"), ("boss", "viewer", "4407")):
        make_user(username, role, code)
        tokens[username] = last_line(runner.invoke(args=["users", "token", username]))
    db.session.commit()

    class County:
        pass
    c = County()
    from reporting.models import Campaign
    c.campaign = db.session.get(Campaign, campaign_id)
    c.periods, c.ids, c.tokens = c.campaign.periods, ids, tokens

    def call(method, url, user, body=None):
        return client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {tokens[user]}"})
    c.call = call
    c.dept_url = lambda name, period=0: f"/api/v1/departments/{ids[name]}/reports/{c.periods[period].id}"
    c.town_url = lambda code=TOWN, period=0: f"/api/v1/reports/{code}/{c.periods[period].id}"
    c.progress = lambda period=0, user="xinhui": call(
        "GET", f"/api/v1/progress/{COUNTY}?period={c.periods[period].id}", user).get_json()
    return c


def test_cli_makes_departments_and_their_filers(county, runner):
    department = db.session.get(Department, county.ids["区民政局"])
    assert department.region.code == COUNTY and department.indicator_keys == ["hardship_should", "hardship_enrolled"]
    assert department.measure == "hardship_enrolled"
    refused = runner.invoke(args=["departments", "add", str(county.campaign.id), "--name", "区残联",
                                  "--indicators", "disabled_enrolled"])
    assert refused.exit_code != 0 and "disabled_enrolled" in refused.output and "不在" in refused.output
    twice = runner.invoke(args=["departments", "add", str(county.campaign.id), "--name", "区民政局",
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
    assert "paid" not in [i.key for i in county.campaign.indicators]
    assert "paid" in [i.key for i in county.campaign.all_indicators]


def test_a_key_outside_the_department_is_refused(county):
    answer = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                         {"values": {"hardship_should": 900, "hardship_enrolled": 800, "enrolled": 5},
                          "filer": FILER, "submit": True})
    assert answer.status_code == 422
    assert [(e["field"], e["message"]) for e in answer.get_json()["errors"]] == [("enrolled", "“enrolled”不是本表的指标")]
    assert db.session.scalar(select(func.count(Report.id))) == 0  # nothing saved
    # nor may a town file the department-only key
    town = county.call("PUT", county.town_url(), "shadui", {"values": {"paid": 5}})
    assert town.status_code == 422 and town.get_json()["errors"][0]["field"] == "paid"


def test_department_files_and_submits_through_the_same_rules(county):
    negative = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                               {"values": {"hardship_should": 900, "hardship_enrolled": -1}, "filer": FILER,
                                "submit": True})
    assert negative.status_code == 422  # a negative count is an error here too
    assert negative.get_json()["errors"][0]["message"] == "困难群众已参保人数不能为负数"
    unsigned = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                           {"values": {"hardship_should": 900, "hardship_enrolled": 870}, "submit": True})
    assert {e["field"] for e in unsigned.get_json()["errors"]} >= {"filer.name", "filer.phone"}
    answer = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                         {"values": {"hardship_should": 900, "hardship_enrolled": 870}, "filer": FILER,
                          "submit": True})
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["status"] == "submitted" and body["values"] == {"hardship_should": 900, "hardship_enrolled": 870}
    assert body["department_id"] == county.ids["区民政局"] and body["late"] is False and body["revision"] == 1
    # a change to a submitted report needs a reason and makes a revision, as for a town
    no_reason = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                            {"values": {"hardship_enrolled": 880}, "revision": 1})
    assert no_reason.status_code == 422 and no_reason.get_json()["errors"][0]["field"] == "reason"
    stale = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_enrolled": 880}, "reason": "补录", "revision": 0})
    assert stale.status_code == 409
    fixed = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_enrolled": 880}, "reason": "补录", "revision": 1})
    assert fixed.status_code == 200 and fixed.get_json()["revision"] == 2
    read = county.call("GET", county.dept_url("区民政局"), "xinhui").get_json()
    assert read["values"]["hardship_enrolled"] == 880 and read["filer"] == FILER


def test_department_figures_never_enter_a_regional_total(county):
    town = county.call("PUT", county.town_url(), "xinhui", {"values": TOWN_VALUES, "filer": FILER, "submit": True})
    assert town.status_code == 200, town.get_json()
    before = county.progress()
    for username, department, values in (
            ("minzheng", "区民政局", {"hardship_should": 5000, "hardship_enrolled": 4900}),
            ("jiaoyu", "区教育局", {"students_enrolled": 60000, "college_enrolled": 3000}),
            ("shuiwu", "区税务局", {"paid": 250000})):
        answer = county.call("PUT", county.dept_url(department), username,
                             {"values": values, "filer": FILER, "submit": True})
        assert answer.status_code == 200, answer.get_json()
    after = county.progress()
    assert after["region"]["totals"] == before["region"]["totals"] == TOWN_VALUES
    assert after["children"] == before["children"]
    # the city above sums the towns only, too
    city = county.call("GET", f"/api/v1/progress/4407?period={county.periods[0].id}", "admin").get_json()
    assert city["region"]["totals"]["hardship_should"] == 800 and "paid" not in city["region"]["totals"]
    # no tally row holds a department's figures: the stored tallies are the towns' recount
    assert tally.stored(county.periods[0]) == tally.recount(county.periods[0])
    assert db.session.scalar(select(func.sum(Tally.s4))) == 800
    departments = {d["name"]: d for d in after["departments"]}
    assert departments["区民政局"]["totals"] == {"hardship_should": 5000, "hardship_enrolled": 4900}
    assert departments["区教育局"]["totals"] == {"students_enrolled": 60000, "college_enrolled": 3000}
    assert departments["区税务局"]["totals"] == {"paid": 250000}
    assert departments["区民政局"]["rate"] == pytest.approx(0.98)


def test_late_missing_pending_and_carried_figures(county, frozen_now):
    first, second = county.periods[0], county.periods[1]
    assert {d["late"] for d in county.progress()["departments"]} == {"pending"}
    county.call("PUT", county.dept_url("区民政局"), "minzheng",
                {"values": {"hardship_should": 900, "hardship_enrolled": 700}, "filer": FILER, "submit": True})
    frozen_now(dt.datetime.combine(first.due + dt.timedelta(days=1), dt.time(9, 0)))  # after the due day
    late = county.call("PUT", county.dept_url("区教育局"), "jiaoyu",
                       {"values": {"students_enrolled": 100, "college_enrolled": 5}, "filer": FILER, "submit": True})
    assert late.get_json()["late"] is True
    states = {d["name"]: d for d in county.progress()["departments"]}
    assert (states["区民政局"]["late"], states["区教育局"]["late"], states["区税务局"]["late"]) == \
        ("on_time", "late", "missing")
    assert states["区税务局"]["totals"] == {"paid": 0} and states["区税务局"]["status"] == "missing"
    assert county.call("GET", county.dept_url("区税务局"), "shuiwu").get_json()["late"] is True

    # period 2, past its due day: 民政局 did not file it and carries period 1's figures forward
    frozen_now(dt.datetime.combine(second.due + dt.timedelta(days=1), dt.time(9, 0)))
    states = {d["name"]: d for d in county.progress(period=1)["departments"]}
    assert states["区民政局"]["late"] == "missing"
    assert states["区民政局"]["carried_from"] == first.id
    assert states["区民政局"]["totals"] == {"hardship_should": 900, "hardship_enrolled": 700}


def test_department_task_from_the_target_table(county, runner, tmp_path):
    table = tmp_path / "任务分解表.csv"
    table.write_text(f"单位代码,单位名称,任务数\n,沙堆镇,25000\n,区民政局,900\nBM{county.ids['区教育局']},,4000\n",
                     encoding="utf-8")
    result = runner.invoke(args=["targets", "import", str(county.campaign.id), str(table)])
    assert result.exit_code == 0, result.output
    assert db.session.get(Department, county.ids["区民政局"]).task == 900
    assert db.session.get(Department, county.ids["区教育局"]).task == 4000  # by its workbook code
    county.call("PUT", county.dept_url("区民政局"), "minzheng",
                {"values": {"hardship_should": 900, "hardship_enrolled": 450}, "filer": FILER, "submit": True})
    minzheng = next(d for d in county.progress()["departments"] if d["name"] == "区民政局")
    assert minzheng["task"] == 900 and minzheng["completion"] == pytest.approx(0.5)
    # the department's task is not a town's: the county's task is its towns' alone
    county.call("PUT", county.town_url(), "xinhui", {"values": TOWN_VALUES, "filer": FILER, "submit": True})
    assert county.progress()["region"]["completion"] == pytest.approx(20000 / 25000)


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
def test_scope_of_department_and_town_filers(county, user, method, target, allowed):
    url = {"own": county.dept_url("区民政局"), "other": county.dept_url("区教育局"), "town": county.town_url(),
           "progress": f"/api/v1/progress/{COUNTY}?period={county.periods[0].id}"}[target]
    values = {"own": {"hardship_should": 10}, "other": {"students_enrolled": 10},
              "town": {"population": 10}}.get(target, {})
    answer = county.call(method, url, user, {"values": values} if method == "PUT" else None)
    if allowed:
        assert answer.status_code == 200, answer.get_json()
    else:
        assert answer.status_code == 403, answer.get_json()
        assert db.session.scalar(select(func.count(Report.id))) == 0


def test_a_report_is_a_region_s_or_a_department_s_never_both(county):
    period = county.periods[0]
    db.session.add(Report(period_id=period.id, region_id=region_by_code(TOWN).id,
                          department_id=county.ids["区民政局"], status="draft"))
    with pytest.raises(Exception):
        db.session.flush()
    db.session.rollback()


def test_unknown_department_foreign_period_and_region_outside(county, runner):
    from reporting.campaigns.campaigns import create_campaign
    other, _ = create_campaign(name="蓬江区2023年度", root=region_by_code("440703"), start=dt.date(2022, 9, 1),
                               end=dt.date(2022, 12, 31), rhythm="weekly", report_level="township")
    db.session.commit()
    unknown = county.call("GET", f"/api/v1/departments/999/reports/{county.periods[0].id}", "admin")
    assert unknown.status_code == 404 and unknown.get_json()["errors"][0]["message"] == "部门 999 不存在"
    foreign = county.call("GET", f"/api/v1/departments/{county.ids['区民政局']}/reports/{other.periods[0].id}",
                          "minzheng")
    assert foreign.status_code == 404 and "不属于区民政局" in foreign.get_json()["errors"][0]["message"]
    outside = runner.invoke(args=["departments", "add", str(county.campaign.id), "--name", "蓬江区民政局",
                                  "--indicators", "hardship_should", "--region", "440703"])
    assert outside.exit_code != 0 and "不在征缴期" in outside.output
    at_town = runner.invoke(args=["departments", "add", str(county.campaign.id), "--name", "沙堆镇民政办",
                                  "--indicators", "hardship_should,hardship_enrolled", "--region", TOWN])
    department_id = int(last_line(at_town))
    # a department lists under the region it sits at, not under the county above
    town = county.call("GET", f"/api/v1/progress/{TOWN}?period={county.periods[0].id}", "xinhui").get_json()
    assert [d["id"] for d in town["departments"]] == [department_id]
    assert department_id not in [d["id"] for d in county.progress()["departments"]]
