"""The 宁河区 demo, shaped like seed 004: 15 镇街 and six departments (条线) report every week.

The tree is the real one (天津市宁河区, 120117: its 2 街道 and 13 镇 with their villages, shipped in
reporting/demo/data/ninghe/). Every target and count is simulated from a fixed seed; they only have
plausible shapes. 区委老干部局 is the late department: it has not filed the last period that is due.
"""
from __future__ import annotations

import datetime as dt
import os
import random
from typing import Callable

from sqlalchemy import insert, select

from reporting import clock
from reporting.calendar.schedule import current_period, shift_years, time_progress
from reporting.campaigns.campaigns import create_campaign, link_previous
from reporting.demo.jiangmen import LAST_YEAR_PACE, _submission_time, demo_window
from reporting.departments.departments import add_department, add_indicator
from reporting.extensions import db
from reporting.indicators import DEFAULT_FORM
from reporting.models import (
    Campaign,
    Department,
    IssuingBody,
    Period,
    Region,
    Report,
    Revision,
    SupervisionItem,
    Target,
    User,
)
from reporting.progress.tally import rebuild as rebuild_tallies
from reporting.regions.hierarchy import descendants_at, import_divisions, region_by_code
from reporting.supervision import supervision

DATA_DIR = os.path.join(os.path.dirname(__file__), "data", "ninghe")
COUNTY_CODE = "120117"
SEED = 2023
#: seed 004: 宁河区城乡居民医疗保险参保人数达到26.91万人
TASK = 269_100
ADMIN = ("nh_admin", "ninghe-admin-2026")
VIEWER = ("nh_viewer", "ninghe-viewer-2026")
FILER_PASSWORD = "ninghe-filer-2026"
#: the towns' form: seed 004's schools enroll 在校学生 (counted in the towns' figures) and it names no
#: 新生儿 or 大学生 column, which leaves the value columns its departments' own groups need
FORM = [(key, "在校学生已参保人数" if key == "students_enrolled" else label, part_of)
        for key, label, part_of in DEFAULT_FORM if key not in ("newborns_enrolled", "college_enrolled")]
#: department-only indicators: a payment count for 税务局, and each 条线's own group (seed 004: 医疗救助对象、
#: 优抚对象、重度残疾人员、离休干部无固定收入的配偶), so that its figures and the 通报 name its people
EXTRA_INDICATORS = (("paid", "已缴费人数"), ("relief_should", "救助对象应参保人数"),
                    ("relief_enrolled", "救助对象已参保人数"), ("disabled_enrolled", "重度残疾人已参保人数"),
                    ("veterans_enrolled", "优抚对象已参保人数"), ("spouses_enrolled", "离休干部配偶已参保人数"))
#: (account, name, indicators, simulated size of its group, its task is that size: 应保尽保)
DEPARTMENTS = (
    ("nh_minzheng", "区民政局", ("relief_should", "relief_enrolled"), 4_860),
    ("nh_canlian", "区残联", ("disabled_enrolled",), 3_920),
    ("nh_tuijunju", "区退役军人事务局", ("veterans_enrolled",), 2_650),
    ("nh_laoganbu", "区委老干部局", ("spouses_enrolled",), 38),
    ("nh_jiaoyu", "区教育局", ("students_enrolled",), 43_500),
    ("nh_shuiwu", "区税务局", ("paid",), TASK),
)
#: the late department: it has filed nothing since the last period that is due
LATE_DEPARTMENT = "区委老干部局"
#: the departments that have already filed the open week (区民政局 has not: the demo files it)
OPEN_WEEK_FILED = ("区残联", "区税务局")
#: towns that file late in one past period, and towns whose curve lags the calendar
LATE_TOWNS = {2: "120117107", 3: "120117113"}
SLOW_TOWNS = {"120117113": 1.7, "120117115": 1.4}
STAFF = ("刘建华", "张丽", "王强", "李娜", "赵磊", "孙静", "周涛", "吴敏", "郑伟", "冯雪", "陈刚", "褚红",
         "卫东", "蒋芳", "沈阳")


def first_due(start: dt.date) -> dt.date:
    """Weekly from October (seed 004): the first Monday after the 国庆 week."""
    day = dt.date(start.year, 10, 8)
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


def load_ninghe(echo: Callable[[str], None] = print) -> str:
    import_divisions(DATA_DIR)
    county = region_by_code(COUNTY_CODE)
    now = clock.now()
    annual, start, end, _ = demo_window(now.date())
    name = f"宁河区{annual}年度城乡居民基本医疗保险参保缴费（模拟数据）"
    campaign = db.session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        campaign, warning = create_campaign(name=name, root=county, start=start, end=end, rhythm="weekly",
                                            first_due=first_due(start), report_level="township", form=FORM)
        if warning:
            echo(warning)
        for key, label in EXTRA_INDICATORS:
            add_indicator(campaign, key, label)
        for _, department, keys, size in DEPARTMENTS:
            add_department(campaign, department, list(keys)).task = size
        _issuing_body(county)
        _simulate(campaign, now)
    if campaign.previous_id is None:
        # last year's campaign, its towns a little behind this year's, so that 较上年同期 shows at once
        previous, _ = create_campaign(name=f"宁河区{annual - 1}年度城乡居民基本医疗保险参保缴费（模拟数据）", root=county,
                                      start=shift_years(start, -1), end=shift_years(end, -1), rhythm="weekly",
                                      first_due=first_due(shift_years(start, -1)), report_level="township",
                                      form=FORM)
        _simulate(previous, now, pace=LAST_YEAR_PACE)
        link_previous(campaign, previous)
    _accounts(campaign, county, echo)
    _supervision(campaign, now)
    return (f"演示数据已就绪：{county.name}，{name}（编号 {campaign.id}），{len(campaign.periods)}期，"
            f"{len(DEPARTMENTS)}个部门")


def _issuing_body(county: Region) -> None:
    if db.session.scalar(select(IssuingBody).where(IssuingBody.region_id == county.id)) is None:
        db.session.add(IssuingBody(
            region=county, name="天津市宁河区医疗保障局", prefix="宁医保",
            addressee="各镇人民政府、各街道办事处，区民政局、区残联、区退役军人事务局、区委老干部局、区税务局、区教育局",
            copy_to="区城乡居民医保参保扩面工作领导小组", printed_by="天津市宁河区医疗保障局办公室"))


def _accounts(campaign: Campaign, county: Region, echo: Callable[[str], None]) -> None:
    def ensure(username, password, role, region, full_name="", phone="", department=None):
        if db.session.scalar(select(User).where(User.username == username)) is None:
            user = User(username=username, role=role, region=region, full_name=full_name, phone=phone,
                        department=department)
            user.set_password(password)
            db.session.add(user)
        echo(f"  {username:<20} {password:<22} {department.name if department else region.name}")

    echo("宁河区演示账号（仅供演示）：")
    ensure(*ADMIN, "city_admin", county, "宁河区医保局管理员", "022-69591234")
    ensure(*VIEWER, "viewer", county, "领导小组")
    for n, town in enumerate(db.session.scalars(descendants_at(county, "township").order_by(Region.code))):
        ensure(f"nh_{town.code}", FILER_PASSWORD, "township_filer", town, STAFF[n % len(STAFF)],
               f"1380226{n:04d}")
    departments = {d.name: d for d in db.session.scalars(select(Department).where(
        Department.campaign_id == campaign.id))}
    for n, (username, name, _, _) in enumerate(DEPARTMENTS):
        ensure(username, FILER_PASSWORD, "department_filer", county, f"{name}填报员", f"1390226{n:04d}",
               department=departments[name])


def _supervision(campaign: Campaign, now: dt.datetime) -> None:
    """A 督办单 to the late department, open and waiting for its 整改报告 (made through the site's steps)."""
    if db.session.scalar(select(SupervisionItem.id).join(Period).where(Period.campaign_id == campaign.id)):
        return
    due = [p for p in campaign.periods if p.deadline <= now]
    if not due:
        return
    department = db.session.scalar(select(Department).where(Department.campaign_id == campaign.id,
                                                             Department.name == LATE_DEPARTMENT))
    admin = db.session.scalar(select(User).where(User.username == ADMIN[0]))
    supervision.create(admin, due[-1], kind="order", department=department,
                       matter=f"{due[-1].label}部门报表逾期未报送",
                       requirement="即日补报离休干部配偶参保数据，说明逾期原因并报送整改报告",
                       due=now.date() + dt.timedelta(days=3))
    db.session.flush()


def _simulate(campaign: Campaign, now: dt.datetime, pace: float = 1.0) -> None:
    rng = random.Random(SEED)
    towns = list(db.session.scalars(descendants_at(campaign.root, "township").order_by(Region.code)))
    weights = [rng.lognormvariate(0, 0.35) for _ in towns]
    profile, targets = {}, []
    for town, weight in zip(towns, weights):
        task = round(TASK * weight / sum(weights))
        should = round(task / 0.95 * rng.uniform(0.99, 1.02))
        profile[town.id] = dict(
            population=round(should / rng.uniform(0.66, 0.74)), should=should, base=rng.uniform(0.25, 0.4),
            final=rng.uniform(0.95, 1.0), shape=SLOW_TOWNS.get(town.code, 1.0) * rng.uniform(0.8, 1.2),
            hardship=round(should * rng.uniform(0.014, 0.022)), students=rng.uniform(0.14, 0.18))
        targets.append({"campaign_id": campaign.id, "region_id": town.id, "task": task,
                        "population": profile[town.id]["population"], "should_enroll": should})
    db.session.execute(insert(Target), targets)

    this_round = current_period(campaign, now.date())
    open_now = not this_round.is_overdue(now)
    filed = [p for p in campaign.periods if p.seq <= this_round.seq]
    # the last period already due: the late department has filed nothing since
    overdue = [p for p in filed if p.is_overdue(now)]
    stop = overdue[-1].seq if overdue else this_round.seq + 1
    slots = {i.key: f"v{i.slot}" for i in campaign.all_indicators}
    rows = []
    for period in filed:
        current = period is this_round and open_now
        t = time_progress(campaign, period.as_of)
        for n, town in enumerate(towns):
            if current and n % 3 == 2:
                continue  # a third of the towns have not filed the open period yet
            p = profile[town.id]
            share = p["base"] + (p["final"] - p["base"]) * t ** p["shape"]
            enrolled = round(p["should"] * share * pace)
            counts = {"population": p["population"], "should_enroll": p["should"], "enrolled": enrolled,
                      "hardship_should": p["hardship"],
                      "hardship_enrolled": min(enrolled, round(p["hardship"] * min(1.0, 0.55 + t))),
                      "students_enrolled": round(enrolled * p["students"])}
            values = {slots[key]: value for key, value in counts.items()}
            at = (now - dt.timedelta(hours=rng.randint(1, 30)) if current else
                  _submission_time(period, town.code, rng, now) if LATE_TOWNS.get(period.seq) != town.code else
                  dt.datetime.combine(period.due + dt.timedelta(days=1), dt.time(10, rng.randint(0, 59))))
            rows.append(_row(period, {"region_id": town.id}, values, STAFF[n % len(STAFF)], at))
        for department in db.session.scalars(select(Department).where(
                Department.campaign_id == campaign.id).order_by(Department.position)):
            if department.name == LATE_DEPARTMENT and period.seq >= stop:
                continue
            if current and department.name not in OPEN_WEEK_FILED:
                continue
            share = min(1.0, 0.35 + 0.65 * t ** rng.uniform(0.8, 1.1))
            size = department.task
            counts = {"relief_should": size, "paid": round(size * min(1.0, share * 0.97)),
                      **{key: round(size * share) for key in department.indicator_keys if key.endswith("_enrolled")}}
            values = {slots[key]: counts[key] for key in department.indicator_keys}
            at = (now - dt.timedelta(hours=rng.randint(1, 30)) if current else
                  _submission_time(period, department.name, rng, now))
            rows.append(_row(period, {"department_id": department.id}, values, f"{department.name}填报员", at))
    db.session.execute(insert(Report), rows)
    revisions = []
    for report in db.session.scalars(select(Report).join(Period, Period.id == Report.period_id).where(
            Period.campaign_id == campaign.id)):
        indicators = report.department.indicators() if report.department_id else campaign.indicators
        revisions.append({"report_id": report.id, "number": 1, "kind": "submit", "old_values": {},
                          "new_values": report.values(indicators), "reason": "",
                          "created_at": report.submitted_at})
    db.session.execute(insert(Revision), revisions)
    for period in filed:  # the reports went in without the filing path: sum the towns once
        rebuild_tallies(period)
    db.session.flush()


def _row(period: Period, filer: dict, values: dict, name: str, at: dt.datetime) -> dict:
    return {"period_id": period.id, "region_id": None, "department_id": None, **filer, "status": "submitted",
            **values, "filer_name": name, "filer_phone": "022-69590000", "filer_head": "主要负责同志",
            "submitted_at": at, "updated_at": at, "revision": 1}
