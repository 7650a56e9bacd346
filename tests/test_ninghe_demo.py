"""The 宁河区 demo (`flask demo --set ninghe`): 15 镇街, six departments, one late, none in the totals."""
import datetime as dt

from sqlalchemy import func, select

from reporting import clock
from reporting.calendar.schedule import current_period
from reporting.departments.departments import department_progress
from reporting.extensions import db
from reporting.models import Department, Report, User
from reporting.progress import tally
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import descendants_at, region_by_code


def test_the_real_county_its_departments_and_the_late_one(ninghe, runner):
    county = region_by_code("120117")
    towns = db.session.scalars(descendants_at(county, "township").order_by("code")).all()
    assert len(towns) == 15 and towns[0].name == "芦台街道" and towns[-1].name == "廉庄镇"  # seed 004's 15个镇街
    assert "模拟数据" in ninghe.name and ninghe.rhythm == "weekly" and ninghe.report_level == "township"
    assert ninghe.periods[0].nominal_due == dt.date(2026, 10, 12)  # weekly from October
    names = [d.name for d in db.session.scalars(select(Department).order_by(Department.position))]
    assert names == ["区民政局", "区残联", "区退役军人事务局", "区委老干部局", "区教育局", "区税务局"]

    now = clock.now()
    open_week = current_period(ninghe, now.date())
    last_due = ninghe.periods[open_week.seq - 2]
    standing = {d.department.name: d for d in department_progress(last_due, county, now)}
    assert [n for n, d in standing.items() if d.late != "on_time"] == ["区委老干部局"]
    assert standing["区委老干部局"].late == "missing" and standing["区委老干部局"].carried_from is not None
    assert standing["区民政局"].completion < 1 and standing["区民政局"].light in ("green", "yellow", "red")
    open_standing = {d.department.name: d.late for d in department_progress(open_week, county, now)}
    assert open_standing["区民政局"] == "pending" and open_standing["区税务局"] == "on_time"

    # the county's totals are its towns' reports, summed; the departments are in no tally
    result = progress(last_due, county)
    filed = db.session.scalar(select(func.sum(Report.v3)).where(Report.period_id == last_due.id,
                                                                Report.region_id.is_not(None)))
    assert result.region.totals.values["enrolled"] == filed
    assert tally.stored(last_due) == tally.recount(last_due)
    assert "paid" not in result.region.totals.values

    # every department has its filer; loading again changes nothing
    filers = db.session.scalars(select(User).where(User.role == "department_filer")).all()
    assert sorted(u.department.name for u in filers) == sorted(names)
    reports = db.session.scalar(select(func.count(Report.id)))
    assert runner.invoke(args=["demo", "--set", "ninghe"]).exit_code == 0
    assert db.session.scalar(select(func.count(Report.id))) == reports


def test_each_department_has_its_own_people_and_the_circular_names_them(ninghe):
    """Seed 004's 条线 each answer for a group of their own: no two departments share an indicator, and
    the 通报 names each group by its indicator's words, never a generic 负责对象."""
    from reporting.circulars.circulars import draft_body
    county = region_by_code("120117")
    departments = db.session.scalars(select(Department).order_by(Department.position)).all()
    keys = [key for d in departments for key in d.indicator_keys]
    assert len(keys) == len(set(keys))
    now = clock.now()
    last_due = ninghe.periods[current_period(ninghe, now.date()).seq - 2]
    body = draft_body(progress(last_due, county))
    section = body.split("三、部门报送情况\n")[1].split("\n")[0]
    for department, people in (("区民政局", "救助对象已参保"), ("区残联", "重度残疾人已参保"),
                               ("区退役军人事务局", "优抚对象已参保"), ("区委老干部局", "离休干部配偶已参保"),
                               ("区教育局", "在校学生已参保"), ("区税务局", "已缴费人数")):
        assert f"{department}{people}" in section
    assert "负责对象" not in body
    requirements = body.split("下一步工作要求")[1]
    # 区委老干部局 is late: 报送纪律 for the towns and the departments; the departments' groups by name
    assert "严肃报送纪律。各地、各部门要严格按照时间节点报送参保进度表" in requirements
    assert "做好救助对象、重度残疾人、优抚对象、离休干部配偶、在校学生等重点人群参保工作" in requirements
