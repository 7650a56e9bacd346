"""The Jiangmen demo: the real 江门市 tree with a simulated campaign, targets, reports and accounts.

All counts are simulated from a fixed seed; they only have plausible shapes.
"""
from __future__ import annotations

import datetime as dt
import os
import random
from typing import Callable

from sqlalchemy import insert, select

from reporting import clock
from reporting.basis.system_figures import import_figures
from reporting.calendar.schedule import current_period, shift_years, time_progress
from reporting.campaigns.campaigns import create_campaign, link_previous
from reporting.extensions import db
from reporting.models import Campaign, Period, Region, Report, Revision, SupervisionItem, Target, User
from reporting.progress import cache
from reporting.progress.tally import rebuild as rebuild_tallies
from reporting.regions.hierarchy import descendants_at, import_divisions, region_by_code
from reporting.supervision import supervision

DATA_DIR = os.path.join(os.path.dirname(__file__), "data", "jiangmen")
CITY_CODE = "4407"
SEED = 2027
#: demo-only accounts; the README lists them
ADMIN = ("jm_admin", "jiangmen-admin-2026")
VIEWER = ("jm_viewer", "jiangmen-viewer-2026")
FILER_PASSWORD = "jiangmen-filer-2026"
#: counties that file late in some past period, and the one that never filed one
LATE = {2: "440785", 3: "440781"}
NEVER_FILED = {3: "440784"}
#: in the system's figures of the last due period: the county whose typed counts run 3% ahead
#: (鹤山市), and the county of the one village far off (开平市)
AHEAD, FAR_OFF_COUNTY = "440784", "440783"
#: the current period: counties that have submitted, and one with a draft
CURRENT_SUBMITTED = ("440703", "440704", "440705", "440783")
CURRENT_DRAFT = ("440781",)
#: last year's simulated campaign: each village's share of its final count, against this year's
LAST_YEAR_PACE = 0.96
#: counties whose curve lags the calendar
SLOW = {"440785": 1.9, "440781": 1.5}
COUNTY_STAFF = {
    "440703": ("陈晓敏", "13802216101"), "440704": ("李志强", "13802216102"),
    "440705": ("黄丽华", "13802216103"), "440781": ("梁国栋", "13802216104"),
    "440783": ("关伟文", "13802216105"), "440784": ("吴秀英", "13802216106"),
    "440785": ("郑家豪", "13802216107"),
}


def demo_window(today: dt.date) -> tuple[int, dt.date, dt.date, dt.date]:
    """The collection window holding today, or the most recent one: (年度, start, end, extend_to)."""
    year = today.year if today.month >= 9 else today.year - 1
    return year + 1, dt.date(year, 9, 1), dt.date(year, 12, 31), dt.date(year + 1, 2, 28)


def load_demo(echo: Callable[[str], None] = print) -> str:
    import_divisions(DATA_DIR)
    city = region_by_code(CITY_CODE)
    now = clock.now()
    annual, start, end, extend_to = demo_window(now.date())
    name = f"江门市{annual}年度城乡居民基本医疗保险参保缴费"
    campaign = db.session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        campaign, warning = create_campaign(name=name, root=city, start=start, end=end,
                                            extend_to=extend_to, first_due=dt.date(start.year, 10, 1))
        if warning:
            echo(warning)
        _simulate(campaign, now)
    if campaign.previous_id is None:
        # last year's campaign, simulated a little behind this year's, so that 较上年同期 shows at once
        previous, _ = create_campaign(name=f"江门市{annual - 1}年度城乡居民基本医疗保险参保缴费（模拟数据）", root=city,
                                      start=shift_years(start, -1), end=shift_years(end, -1),
                                      extend_to=shift_years(extend_to, -1), first_due=dt.date(start.year - 1, 10, 1))
        _simulate(previous, now, pace=LAST_YEAR_PACE)
        link_previous(campaign, previous)
    _accounts(city, echo)
    _supervision(campaign, now)
    return f"演示数据已就绪：{city.name}，{name}（编号 {campaign.id}），{len(campaign.periods)}期"


def _accounts(city: Region, echo: Callable[[str], None]) -> None:
    def ensure(username, password, role, region, full_name="", phone=""):
        if db.session.scalar(select(User).where(User.username == username)) is None:
            user = User(username=username, role=role, region=region, full_name=full_name, phone=phone)
            user.set_password(password)
            db.session.add(user)
        echo(f"  {username:<16} {password:<22} {region.name}")

    echo("演示账号（仅供演示）：")
    ensure(*ADMIN, "city_admin", city, "江门市医保局管理员", "0750-3501234")
    ensure(*VIEWER, "viewer", city, "江门市领导")
    for county in db.session.scalars(descendants_at(city, "county").order_by(Region.code)):
        staff = COUNTY_STAFF.get(county.code, ("", ""))
        ensure(f"filer_{county.code}", FILER_PASSWORD, "county_filer", county, *staff)


#: the demo's 督办: a 约谈 of the slowest county, answered and 销号, and an order to the county that
#: never filed a period, still unanswered past its time limit
INTERVIEWED, ORDERED = "440785", "440784"


def _supervision(campaign: Campaign, now: dt.datetime) -> None:
    """One closed 约谈 and one overdue 督办单, made through the same steps as the site's (audited)."""
    if db.session.scalar(select(SupervisionItem.id).join(Period).where(Period.campaign_id == campaign.id)):
        return
    due = [p for p in campaign.periods if p.due < now.date()]
    if not due:
        return
    admin = db.session.scalar(select(User).where(User.username == ADMIN[0]))
    interviewed, ordered = region_by_code(INTERVIEWED), region_by_code(ORDERED)
    # the latest period that put the county on the 约谈名单 (the 约谈 follows the list)
    period = next((p for p in reversed(due) if any(r.region.id == interviewed.id
                                                   for r in cache.progress(p, campaign.root).interviews)), due[0])
    item = supervision.create(
        admin, period, kind="interview", region=interviewed,
        matter=supervision.suggested_matter(period, interviewed) or "参保进度滞后",
        requirement="分析进度滞后原因，落实包村责任，一周内报送整改报告", due=period.due + dt.timedelta(days=7),
        interview={"date": period.due + dt.timedelta(days=1), "place": "市医保局三楼会议室",
                   "interviewee": "恩平市医保局主要负责人", "interviewer": "市医保局分管副局长"})
    filer = db.session.scalar(select(User).where(User.username == f"filer_{INTERVIEWED}"))
    supervision.respond(item, filer, "已召开全市参保动员会，逐村通报进度，组织村干部入户动员",
                        measures="每日通报各镇进度；对排名末位的村由镇领导包片督导",
                        promise="下期完成率高于序时进度")
    supervision.close(item, admin)
    # the period the county never filed, if it is due already
    missed = next((p for p in due if NEVER_FILED.get(p.seq) == ORDERED), None)
    if missed is not None:
        supervision.create(admin, missed, kind="order", region=ordered, matter=f"{missed.label}参保进度表逾期未报送",
                           requirement="说明未报送原因，补报数据并报送整改报告",
                           due=max(now.date() - dt.timedelta(days=2), missed.due))
    db.session.flush()


def _simulate(campaign: Campaign, now: dt.datetime, pace: float = 1.0) -> None:
    rng = random.Random(SEED)
    villages = list(db.session.scalars(descendants_at(campaign.root, "village").order_by(Region.code)))
    regions = {r.id: r for r in db.session.scalars(select(Region).where(
        Region.city_id == campaign.root.id))}
    counties = {r.id: r.code for r in regions.values() if r.level == "county"}

    targets: dict[int, list[int]] = {}
    profile = {}
    for village in villages:
        population = int(rng.lognormvariate(7.9, 0.5))
        task = round(population * rng.uniform(0.86, 0.90))
        should = round(task * rng.uniform(0.99, 1.02))
        county = counties[village.county_id]
        profile[village.id] = dict(
            population=population, should=should, base=rng.uniform(0.15, 0.35),
            final=rng.uniform(0.92, 1.0), shape=SLOW.get(county, 1.0) * rng.uniform(0.7, 1.3),
            hardship=max(3, round(should * rng.uniform(0.02, 0.05))),
            students=rng.uniform(0.15, 0.22), newborn=rng.uniform(0.005, 0.012),
            college=rng.choice([0, 0, 0, rng.randint(5, 60)]))
        for rid in (village.id, village.township_id, village.county_id, village.city_id):
            totals = targets.setdefault(rid, [0, 0, 0])
            totals[0] += task
            totals[1] += population
            totals[2] += should
    db.session.execute(insert(Target), [
        {"campaign_id": campaign.id, "region_id": rid, "task": t, "population": p, "should_enroll": s}
        for rid, (t, p, s) in targets.items()])

    gaps = {v.id for v in rng.sample(villages, 6)}  # difficult-group coverage not yet complete
    dropper = rng.choice(villages).id  # one unit whose count falls in the third period
    this_round = current_period(campaign, now.date())
    filed = [p for p in campaign.periods if p.seq <= this_round.seq]
    report_rows, revision_rows = [], []
    for period in filed:
        current = period is this_round and not period.is_overdue(now)
        t = time_progress(campaign, period.as_of)
        for village in villages:
            county = counties[village.county_id]
            if NEVER_FILED.get(period.seq) == county:
                continue
            if current and county not in CURRENT_SUBMITTED + CURRENT_DRAFT:
                continue
            p = profile[village.id]
            share = p["base"] + (p["final"] - p["base"]) * t ** p["shape"]
            enrolled = round(p["should"] * share * pace)
            if village.id == dropper and period.seq == 3:
                enrolled = round(enrolled * 0.93)
            hardship_enrolled = p["hardship"] if village.id not in gaps else p["hardship"] - rng.randint(1, 4)
            values = {"v1": p["population"], "v2": p["should"], "v3": enrolled, "v4": p["hardship"],
                      "v5": min(enrolled, round(hardship_enrolled * min(1.0, 0.6 + t))),
                      "v6": round(enrolled * p["students"]), "v7": round(enrolled * p["newborn"]),
                      "v8": p["college"]}
            staff = COUNTY_STAFF[county]
            submitted = not (current and county in CURRENT_DRAFT)
            at = None
            if submitted:
                at = now - dt.timedelta(hours=rng.randint(1, 48)) if current else \
                    _submission_time(period, county, rng, now)
            report_rows.append({"period_id": period.id, "region_id": village.id,
                                "status": "submitted" if submitted else "draft", **values,
                                "filer_name": staff[0], "filer_phone": staff[1],
                                "filer_head": "局长", "submitted_at": at,
                                "updated_at": at or now, "revision": 1})
    db.session.execute(insert(Report), report_rows)
    indicators = campaign.indicators
    for report in db.session.scalars(select(Report).join(Report.period).where(
            Report.status == "submitted", Report.period.has(campaign_id=campaign.id))):
        revision_rows.append({"report_id": report.id, "number": 1, "kind": "submit", "old_values": {},
                              "new_values": report.values(indicators), "reason": "",
                              "created_at": report.submitted_at})
    db.session.execute(insert(Revision), revision_rows)
    for period in filed:  # the reports went in without the filing path: sum them once
        rebuild_tallies(period)
    db.session.flush()
    due = [p for p in filed if p.deadline <= now]
    if due:
        _system_figures(due[-1], [r for r in report_rows if r["period_id"] == due[-1].id], villages, counties, rng)


def _system_figures(period, rows: list[dict], villages: list[Region], counties: dict[int, str],
                    rng: random.Random) -> None:
    """The information system's export of the last due period: most villages within a few people
    of their typed count, one county's typed counts 3% ahead of the system, and one village far off."""
    by_id = {v.id: v for v in villages}
    far = next(by_id[r["region_id"]] for r in rows if counties[by_id[r["region_id"]].county_id] == FAR_OFF_COUNTY)
    body = []
    for n, row in enumerate(rows, start=2):
        village, typed = by_id[row["region_id"]], row["v3"]
        if counties[village.county_id] == AHEAD:
            system = round(typed / 1.03)
        elif village.id == far.id:
            system = round(typed * 0.8)
        else:
            system = typed - rng.randint(0, min(15, typed))
        body.append((n, [village.code, system, row["v2"], period.as_of.isoformat()]))
    import_figures(period, ["单位代码", "enrolled", "should_enroll", "数据日期"], body,
                   source={"file": "演示：信息系统导出"})


def _submission_time(period, county: str, rng: random.Random, now: dt.datetime) -> dt.datetime:
    if LATE.get(period.seq) == county:
        day = period.due + dt.timedelta(days=rng.randint(1, 2))
    else:
        day = period.due - dt.timedelta(days=rng.randint(0, 2))
    moment = dt.datetime.combine(day, dt.time(rng.randint(9, 17), rng.randint(0, 59)))
    return min(moment, now)
