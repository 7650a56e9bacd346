"""The domain's tables: regions, campaigns, periods, targets, reports, users."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Optional

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reporting import clock, passwords
from reporting.extensions import db

LEVELS = ("province", "city", "county", "township", "village")
LEVEL_NAMES = {"province": "省", "city": "市", "county": "县（市、区）", "township": "乡镇（街道）",
               "village": "村（社区）"}
#: code length of each level in the statistical division codes
CODE_LENGTHS = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
#: number of value columns a report has; a form maps its indicators onto them
VALUE_SLOTS = 12


def child_level(level: str) -> Optional[str]:
    """The level below `level`, or None below a village."""
    depth = LEVELS.index(level)
    return LEVELS[depth + 1] if depth + 1 < len(LEVELS) else None


class Region(db.Model):
    """One unit of the administrative tree (行政区划)."""
    id: Mapped[int] = mapped_column(primary_key=True)
    #: statistical division code: 2, 4, 6, 9 or 12 digits
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: one of LEVELS
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("region.id"), index=True)
    # The ancestor at each level (the unit itself at its own level), so that "everything under X"
    # is one indexed equality and a roll-up is one GROUP BY, with no tree walk.
    province_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    city_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    county_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    township_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    # How many units of each level lie below (derived at import), so that "who has not reported"
    # needs no count over the tree at every request.
    counties: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    townships: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    villages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    parent: Mapped[Optional["Region"]] = relationship(remote_side=[id])

    def units(self, level: str) -> int:
        """How many units of `level` this unit holds (itself, at its own level)."""
        if level == self.level:
            return 1
        return getattr(self, {"county": "counties", "township": "townships", "village": "villages"}[level])

    def ancestor_id(self, level: str) -> Optional[int]:
        return self.id if level == "village" else getattr(self, f"{level}_id")

    @property
    def depth(self) -> int:
        return LEVELS.index(self.level)

    def lies_in(self, region_id: int) -> bool:
        """Whether this unit is the unit `region_id` or lies below it (no query: its stored ancestors)."""
        return region_id in (self.id, self.province_id, self.city_id, self.county_id, self.township_id)

    def contains(self, other: "Region") -> bool:
        """Whether `other` is this unit or lies below it."""
        if self.level == "village":
            return other.id == self.id
        return getattr(other, f"{self.level}_id") == self.id

    def ancestors(self) -> list["Region"]:
        """The chain from the top of the tree down to this unit's parent."""
        ids = [getattr(self, f"{lvl}_id") for lvl in LEVELS[:self.depth]]
        ids = [i for i in ids if i is not None]
        if not ids:
            return []
        found = {r.id: r for r in db.session.scalars(db.select(Region).where(Region.id.in_(ids)))}
        return [found[i] for i in ids if i in found]

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"


class Campaign(db.Model):
    """One enrollment year's collection campaign (参保年度 / 征缴期)."""
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the region the campaign covers; the issuing bureau sits here
    root_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    #: 延长征缴期 end, if the window is extended
    extend_to: Mapped[Optional[dt.date]] = mapped_column(Date)
    #: semimonthly or weekly
    rhythm: Mapped[str] = mapped_column(String(12), default="semimonthly")
    #: the level whose units file reports (village, township or county)
    report_level: Mapped[str] = mapped_column(String(10), default="village")
    target_rate: Mapped[float] = mapped_column(Numeric(5, 4), default=0.95)
    #: per-level 约谈 rule, e.g. {"county": {"bottom": 1, "periods": 2}}
    interview_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    #: 下一步工作要求: the standing requirements closing each circular, editable by the city
    requirements: Mapped[str] = mapped_column(Text, default="")
    #: 自动催报: send a 催报 this many hours before each period's deadline (None: never)
    auto_remind_hours: Mapped[Optional[int]] = mapped_column(Integer)
    #: print the circular's own serial in a 期号 line (第3期) above its 发文字号
    circular_issue_line: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    #: which figures rank (口径): "reported" (the typed 进度表) or "system" (以信息系统数据为准)
    basis: Mapped[str] = mapped_column(String(10), default="reported", server_default="reported")
    #: a gap between typed and system 已参保 is flagged beyond both this share of the system's figure …
    system_share: Mapped[float] = mapped_column(Numeric(5, 4), default=0.02, server_default="0.02")
    #: … and this many people
    system_people: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    #: last year's campaign (上年同期 figures come from it), made by `campaign next` or linked by hand
    previous_id: Mapped[Optional[int]] = mapped_column(ForeignKey("campaign.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)

    root: Mapped[Region] = relationship()
    previous: Mapped[Optional["Campaign"]] = relationship(remote_side=[id])
    periods: Mapped[list["Period"]] = relationship(back_populates="campaign", order_by="Period.seq",
                                                   cascade="all, delete-orphan")
    #: the regional form: what the units of the tree file, summed up the tree
    indicators: Mapped[list["Indicator"]] = relationship(
        primaryjoin="and_(Campaign.id == Indicator.campaign_id, Indicator.departments_only.is_(False))",
        order_by="Indicator.position", cascade="all, delete-orphan")
    #: every indicator, with those only departments file (e.g. 税务局's 已缴费人数)
    all_indicators: Mapped[list["Indicator"]] = relationship(order_by="Indicator.position", viewonly=True)

    def covers(self, region: Region) -> bool:
        """Whether the campaign's figures concern `region`: a unit under its root, or one above it (a
        province reads its city's campaign). The one test of it, without a query."""
        return region.lies_in(self.root_id) or region.contains(self.root)

    @property
    def closes_on(self) -> dt.date:
        """The last day anything may be filed without a city admin."""
        return self.extend_to or self.end

    def interview_rule(self, level: str) -> tuple[int, int]:
        rule = (self.interview_rules or {}).get(level, {})
        return int(rule.get("bottom", 1)), int(rule.get("periods", 2))

    def interview_below_time_progress(self, level: str) -> bool:
        """Whether 约谈 at this level needs the unit below 序时进度 as well as in the bottom."""
        return bool((self.interview_rules or {}).get(level, {}).get("below_time_progress", False))


class Period(db.Model):
    """One reporting round (报送期次) of a campaign."""
    __table_args__ = (UniqueConstraint("campaign_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    #: 第N期, from 1
    seq: Mapped[int] = mapped_column(Integer)
    #: 截至日期: the day the numbers describe
    as_of: Mapped[dt.date] = mapped_column(Date)
    #: the nominal due date (the 1st, the 15th, or a week after the last)
    nominal_due: Mapped[dt.date] = mapped_column(Date)
    #: 报送截止, after 节假日顺延
    due: Mapped[dt.date] = mapped_column(Date)

    campaign: Mapped[Campaign] = relationship(back_populates="periods")

    @property
    def label(self) -> str:
        return f"第{self.seq}期（截至{self.as_of.month}月{self.as_of.day}日）"

    @property
    def deadline(self) -> dt.datetime:
        """The first moment a submission counts as late: the end of the due day."""
        return dt.datetime.combine(self.due + dt.timedelta(days=1), dt.time())

    def is_overdue(self, at: dt.date | dt.datetime) -> bool:
        """Whether the due day has passed at `at` (a moment, or a day): from then on a unit that has not
        submitted is 逾期未报 (missing); until then it is 待报 (pending). The one test of it."""
        if not isinstance(at, dt.datetime):
            at = dt.datetime.combine(at, dt.time())
        return at >= self.deadline

    def is_late(self, submitted_at: dt.datetime) -> bool:
        """Whether a submission at `submitted_at` is 迟报: made after the due day."""
        return submitted_at >= self.deadline


class Indicator(db.Model):
    """One column of a campaign's form (进度表 / 指标)."""
    __table_args__ = (UniqueConstraint("campaign_id", "key"), UniqueConstraint("campaign_id", "slot"))
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    #: the API key, e.g. enrolled
    key: Mapped[str] = mapped_column(String(40))
    #: the Chinese column heading
    label: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    #: which of the report's value columns holds it (1..VALUE_SLOTS)
    slot: Mapped[int] = mapped_column(Integer)
    #: the key of the total this is a 其中 part of, if any
    part_of: Mapped[Optional[str]] = mapped_column(String(40))
    #: filed by departments (条线) only, never part of the regional form
    departments_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class SystemFigure(db.Model):
    """The 医保信息系统's figures of one unit for one period, kept beside the reports (never a report)."""
    __table_args__ = (UniqueConstraint("period_id", "region_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: the parent unit, so that the figures of a region's children are one indexed lookup
    parent_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    #: counts by indicator key, e.g. {"enrolled": 2830}
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    #: 数据日期: the day the system's export describes
    at: Mapped[Optional[dt.date]] = mapped_column(Date)
    #: a row of the file itself (False: the sum of the rows of the units below it)
    own: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)


class Department(db.Model):
    """A department (条线, e.g. 区民政局) that files some of a campaign's indicators every period."""
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    #: where it sits and who supervises it (by default the campaign's root)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: e.g. 区民政局
    name: Mapped[str] = mapped_column(String(100))
    #: the keys of the indicators it files, in the order of its form
    indicator_keys: Mapped[list] = mapped_column(JSON, default=list)
    #: the key whose count is measured against its task (任务数)
    measure: Mapped[str] = mapped_column(String(40))
    #: 任务数, from the 任务分解表
    task: Mapped[Optional[int]] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    campaign: Mapped[Campaign] = relationship()
    region: Mapped[Region] = relationship()

    def indicators(self) -> list[Indicator]:
        """Its form: the campaign's indicators it files, in the campaign's order."""
        keys = set(self.indicator_keys)
        return [i for i in self.campaign.all_indicators if i.key in keys]

    def __repr__(self) -> str:
        return f"<Department {self.id} {self.name}>"


class HolidayOverride(db.Model):
    """An admin's correction to the official calendar, for years it does not cover yet."""
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True)
    #: True: a working day (调休上班); False: a day off
    workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")


class DueChange(db.Model):
    """A period's 报送截止 moved because the holiday calendar changed; its filers see it at home."""
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), index=True)
    old_due: Mapped[dt.date] = mapped_column(Date)
    new_due: Mapped[dt.date] = mapped_column(Date)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    #: the admin who entered the days (none from the command line)
    changed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))

    period: Mapped["Period"] = relationship()
    changed_by: Mapped[Optional["User"]] = relationship()


class Target(db.Model):
    """The task (任务数) assigned to a region for a campaign."""
    __table_args__ = (UniqueConstraint("campaign_id", "region_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: 任务数: people to enroll
    task: Mapped[int] = mapped_column(Integer)
    #: 常住人口数, if the table gives it
    population: Mapped[Optional[int]] = mapped_column(Integer)
    #: 应参保人数, if the table gives it
    should_enroll: Mapped[Optional[int]] = mapped_column(Integer)

    region: Mapped[Region] = relationship()


class Report(db.Model):
    """One region's (or one department's) form for one period (报表)."""
    __table_args__ = (UniqueConstraint("period_id", "region_id"),
                      # one report per department and period; partial, so that the units' reports
                      # (most of the table, written 60,000 at a time by an import) skip this index
                      Index("uq_report_period_department", "period_id", "department_id", unique=True,
                            postgresql_where=text("department_id IS NOT NULL"),
                            sqlite_where=text("department_id IS NOT NULL")),
                      # a report belongs to a unit of the tree or to a department, never both
                      CheckConstraint("(region_id IS NULL) <> (department_id IS NULL)", name="one_filer"),
                      Index("ix_report_region_period", "region_id", "period_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    #: the unit of the tree; None for a department's report, which no regional sum ever reads
    region_id: Mapped[Optional[int]] = mapped_column(ForeignKey("region.id"))
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))
    #: draft or submitted
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # The indicator values, mapped by Indicator.slot; counts of people, never rates.
    v1: Mapped[Optional[int]] = mapped_column(Integer)
    v2: Mapped[Optional[int]] = mapped_column(Integer)
    v3: Mapped[Optional[int]] = mapped_column(Integer)
    v4: Mapped[Optional[int]] = mapped_column(Integer)
    v5: Mapped[Optional[int]] = mapped_column(Integer)
    v6: Mapped[Optional[int]] = mapped_column(Integer)
    v7: Mapped[Optional[int]] = mapped_column(Integer)
    v8: Mapped[Optional[int]] = mapped_column(Integer)
    v9: Mapped[Optional[int]] = mapped_column(Integer)
    v10: Mapped[Optional[int]] = mapped_column(Integer)
    v11: Mapped[Optional[int]] = mapped_column(Integer)
    v12: Mapped[Optional[int]] = mapped_column(Integer)
    #: 填表人
    filer_name: Mapped[str] = mapped_column(String(50), default="")
    #: 联系电话
    filer_phone: Mapped[str] = mapped_column(String(30), default="")
    #: 单位负责人
    filer_head: Mapped[str] = mapped_column(String(50), default="")
    #: server time of the first submission; decides 迟报
    submitted_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    #: who submitted it first (none: the information system); with submitted_at and the values,
    #: the history's first entry when no revision row holds it (a bulk import writes none)
    submitted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    updated_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    #: bumped on every write; a writer holding an older number gets a conflict
    revision: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": revision}

    period: Mapped[Period] = relationship()
    region: Mapped[Optional[Region]] = relationship()
    department: Mapped[Optional[Department]] = relationship()
    updated_by: Mapped[Optional["User"]] = relationship(foreign_keys=[updated_by_id])
    submitted_by: Mapped[Optional["User"]] = relationship(foreign_keys=[submitted_by_id])

    def values(self, indicators: list[Indicator]) -> dict[str, Optional[int]]:
        return {i.key: getattr(self, f"v{i.slot}") for i in indicators}

    def set_values(self, indicators: list[Indicator], values: dict[str, Optional[int]]) -> None:
        for i in indicators:
            if i.key in values:
                setattr(self, f"v{i.slot}", values[i.key])

    @property
    def late(self) -> bool:
        return self.submitted_at is not None and self.period.is_late(self.submitted_at)


class Tally(db.Model):
    """小计: the submitted reports of one unit's report-level children for one period, summed.

    One row per (period, parent of report units), e.g. per township when villages file. It is
    written in the same transaction as the reports it sums (reporting/progress/tally.py), so a roll-up
    above that level reads one row per township instead of one per village, and is exactly
    as live as reading the reports. Only submitted reports are summed: drafts never count.
    """
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), primary_key=True)
    # The unit's own ancestor ids, copied from its Region: a roll-up groups and filters the
    # tallies alone, with no join back to the half-million rows of the region table.
    province_id: Mapped[Optional[int]] = mapped_column(Integer)
    city_id: Mapped[Optional[int]] = mapped_column(Integer)
    county_id: Mapped[Optional[int]] = mapped_column(Integer)
    township_id: Mapped[Optional[int]] = mapped_column(Integer)
    #: submitted reports summed here
    reports: Mapped[int] = mapped_column(Integer, default=0)
    #: of those, submitted after the period's deadline (迟报)
    late: Mapped[int] = mapped_column(Integer, default=0)
    # The sums of Report.v1 .. v12 (a submitted report has every value of its form).
    s1: Mapped[int] = mapped_column(BigInteger, default=0)
    s2: Mapped[int] = mapped_column(BigInteger, default=0)
    s3: Mapped[int] = mapped_column(BigInteger, default=0)
    s4: Mapped[int] = mapped_column(BigInteger, default=0)
    s5: Mapped[int] = mapped_column(BigInteger, default=0)
    s6: Mapped[int] = mapped_column(BigInteger, default=0)
    s7: Mapped[int] = mapped_column(BigInteger, default=0)
    s8: Mapped[int] = mapped_column(BigInteger, default=0)
    s9: Mapped[int] = mapped_column(BigInteger, default=0)
    s10: Mapped[int] = mapped_column(BigInteger, default=0)
    s11: Mapped[int] = mapped_column(BigInteger, default=0)
    s12: Mapped[int] = mapped_column(BigInteger, default=0)
    # The one basis (口径): a unit that has not submitted a period counts with its latest submitted
    # report. Each submission adds its change over the unit's previous submitted report (its
    # whole values on a first one), so the basis of period P is the sum of b1..b12 over the
    # periods up to P: one GROUP BY, with no walk back through each unit's reports.
    #: report units whose first submitted report of the campaign is of this period
    first_reports: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    b1: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b2: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b3: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b4: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b5: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b6: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b7: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b8: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b9: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b10: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b11: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    b12: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ProgressVersion(db.Model):
    """The version of a campaign's numbers in one branch: the campaign's root (every write moves
    it) or one child of the root (the writes inside it). Raised in the same transaction as every
    write that moves what a progress answer shows (the tallies, the tasks), so that an answer cached
    at one version is never served at another (reporting/progress/cache.py)."""
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    #: random, set when the row is made: a database made afresh (same ids, same versions) never
    #: matches what was cached for the one before it
    token: Mapped[str] = mapped_column(String(32), default="")


class Revision(db.Model):
    """A change to a submitted report (修订记录): never deleted."""
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), index=True)
    #: the report's revision number after this change
    number: Mapped[int] = mapped_column(Integer)
    #: submit (the first submission) or correct
    kind: Mapped[str] = mapped_column(String(10))
    old_values: Mapped[dict] = mapped_column(JSON)
    new_values: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)

    user: Mapped[Optional["User"]] = relationship()


ROLES = {"city_admin": "市级管理员", "county_filer": "县级填报员",
         "township_filer": "乡镇填报员", "viewer": "查看", "department_filer": "部门填报员",
         "system_admin": "系统管理员", "security_admin": "安全管理员", "audit_admin": "审计管理员"}
#: the three roles of 三员分立 (等保2.0 三级); each account has one role, so nobody holds two of them
DUTY_ROLES = ("system_admin", "security_admin", "audit_admin")
#: roles that may write reports in their subtree
WRITER_ROLES = {"city_admin", "county_filer", "township_filer"}


class User(UserMixin, db.Model):
    """A signed-in person, bound to one region subtree."""
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    #: one of ROLES
    role: Mapped[str] = mapped_column(String(20))
    #: the subtree it sees; a department filer's is its department's region, which it may not read
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    #: the one department a department_filer files for
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))
    #: the person's name, shown as 填表人 by default
    full_name: Mapped[str] = mapped_column(String(50), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: changes at every login, logout and password change, so that older session cookies stop working
    session_nonce: Mapped[str] = mapped_column(String(32), default="")
    #: set by an admin's creation or reset: every page leads to 修改密码 until the user picks their own
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    #: when the password was last set, for PASSWORD_MAX_AGE_DAYS (None: before that was kept)
    password_changed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    #: wrong passwords since `failed_since` (the first of them in the current 15 minutes)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_since: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    #: no login until then (5 wrong passwords in 15 minutes), unless a security admin unlocks it
    locked_until: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    region: Mapped[Region] = relationship()
    department: Mapped[Optional[Department]] = relationship()
    #: the key of the login session this request came with (not stored: only its digest is)
    login_key = ""

    def get_id(self) -> str:
        return f"{self.id}:{self.login_key}"

    def set_password(self, password: str) -> None:
        self.password_hash = passwords.hash_password(password)
        self.password_changed_at = clock.now()

    def check_password(self, password: str) -> bool:
        """One hash of `password`; a right password stored under an older hash is rehashed once
        (saved with the caller's commit)."""
        ok, upgraded = passwords.verify(self.password_hash, password)
        if upgraded is not None:
            self.password_hash = upgraded
        return ok

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def role_name(self) -> str:
        return ROLES[self.role]


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    revoked_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    #: what it is for, e.g. 医保信息系统推送
    label: Mapped[str] = mapped_column(String(100), default="")

    user: Mapped[User] = relationship()

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class LoginSession(db.Model):
    """One signed-in browser: each login has its own, so that staff sharing an account do not sign
    each other out. It ends at its logout, at 退出其他设备, or when the user's nonce moves on
    (a password change, a disabled account)."""
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    #: SHA-256 of the random key the session cookie carries
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: the user's session_nonce at login; a different one now means the session has ended
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    #: when it was last used (to the minute)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    ended_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    #: the client's address and browser, as shown on the account page
    address: Mapped[str] = mapped_column(String(45), default="")
    agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()


class IssuingBody(db.Model):
    """The bureau that issues circulars for a region: its name, 机关代字 and standing addresses."""
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True)
    #: 发文机关, e.g. 江门市医疗保障局
    name: Mapped[str] = mapped_column(String(100))
    #: 机关代字 of the 发文字号, e.g. 江医保
    prefix: Mapped[str] = mapped_column(String(20))
    #: 主送, e.g. 各县（市、区）医疗保障局
    addressee: Mapped[str] = mapped_column(String(200))
    #: 抄送
    copy_to: Mapped[str] = mapped_column(String(300), default="")
    #: 印发机关, e.g. 江门市医疗保障局办公室
    printed_by: Mapped[str] = mapped_column(String(100))

    region: Mapped[Region] = relationship()


class Circular(db.Model):
    """A 通报: a draft while edited; once issued, its text, numbers and PDF never change."""
    __table_args__ = (UniqueConstraint("doc_prefix", "doc_year", "doc_seq"),
                      UniqueConstraint("campaign_id", "region_id", "issue_no"))
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), index=True)
    #: the region reported on, whose bureau issues it
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: draft or issued
    status: Mapped[str] = mapped_column(String(10), default="draft")
    title: Mapped[str] = mapped_column(String(300))
    #: the editable body: headings (一、 and （一）) and paragraphs, one per line
    body: Mapped[str] = mapped_column(Text)
    #: 第N期, per campaign and region, taken at issue
    issue_no: Mapped[Optional[int]] = mapped_column(Integer)
    doc_prefix: Mapped[Optional[str]] = mapped_column(String(20))
    doc_year: Mapped[Optional[int]] = mapped_column(Integer)
    #: the sequence of the 发文字号, counted per 机关代字 and year
    doc_seq: Mapped[Optional[int]] = mapped_column(Integer)
    #: the numbers the circular was issued with (the progress of the region at issue)
    snapshot: Mapped[Optional[dict]] = mapped_column(JSON)
    pdf: Mapped[Optional[bytes]] = mapped_column(LargeBinary, deferred=True)
    #: the printable HTML as issued, so that the browser view matches the PDF
    html: Mapped[Optional[str]] = mapped_column(Text, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    issued_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    issued_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    #: the background job issuing it, while one runs
    job_id: Mapped[Optional[str]] = mapped_column(String(64))
    #: a digest of the figures the text was written from (circulars.data_version); 签发 compares it
    #: with the figures then, so that a body never goes out beside annexes of another moment
    data_version: Mapped[Optional[str]] = mapped_column(String(64))
    #: when the text was last written from the figures (drafted or regenerated)
    written_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    #: the annexes (tables and charts) as of written_at, for an issue with the draft's numbers
    annexes: Mapped[Optional[list]] = mapped_column(JSON, deferred=True)

    campaign: Mapped[Campaign] = relationship()
    period: Mapped[Period] = relationship()
    region: Mapped[Region] = relationship()
    issued_by: Mapped[Optional[User]] = relationship(foreign_keys=[issued_by_id])

    @property
    def doc_number(self) -> Optional[str]:
        if self.doc_seq is None:
            return None
        return f"{self.doc_prefix}〔{self.doc_year}〕{self.doc_seq}号"

    @property
    def data_label(self) -> str:
        """What its numbers describe, for lists and headings: 第5期，数据截至11月30日 (the circular's own
        serial, its 期号, is another count and is not named beside a period's data)."""
        as_of = self.period.as_of
        return f"{self.period.label}，数据截至{as_of.month}月{as_of.day}日"


class AuditEntry(db.Model):
    """One write, as it happened: who, when, what, where, before and after. Never changed."""
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"), index=True)
    #: the user's name at the time (or the name tried, for a failed login)
    username: Mapped[str] = mapped_column(String(50), default="")
    #: what happened, e.g. report.save, report.submit, login.failure
    kind: Mapped[str] = mapped_column(String(40), index=True)
    region_id: Mapped[Optional[int]] = mapped_column(ForeignKey("region.id"), index=True)
    #: what was written, e.g. "报表 440705001001 第3期"
    target: Mapped[str] = mapped_column(String(200), default="")
    before: Mapped[Optional[dict]] = mapped_column(JSON)
    after: Mapped[Optional[dict]] = mapped_column(JSON)
    #: the client's address, when the write came over HTTP
    ip: Mapped[str] = mapped_column(String(45), default="")
    #: SHA-256 of this entry's content and the previous entry's digest (audit.entry_digest): a chain
    digest: Mapped[Optional[str]] = mapped_column(String(64))

    region: Mapped[Optional[Region]] = relationship()
    user: Mapped[Optional[User]] = relationship()


class Review(db.Model):
    """The review state of one report (审核): 退回, 审核通过, and the lock an issued 通报 puts on it.

    A report without a row, or with `state` None, is submitted and awaits review. The report keeps
    its status "submitted" throughout, so that a returned report goes on counting with the values it
    was returned with until it is resubmitted.
    """
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), primary_key=True)
    #: returned (已退回), approved (已审核), or None (待审核)
    state: Mapped[Optional[str]] = mapped_column(String(10))
    #: why it was returned (退回原因)
    reason: Mapped[str] = mapped_column(Text, default="")
    by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    #: the issued 通报 that printed this report's numbers (kept after a reopening)
    published_id: Mapped[Optional[int]] = mapped_column(ForeignKey("circular.id"))
    #: True while that publication locks the report (until a reviewer reopens it)
    published_lock: Mapped[bool] = mapped_column(Boolean, default=False)
    #: what the filer is preparing while the report stands returned: {"values": {...}, "filer": {...}}
    pending: Mapped[Optional[dict]] = mapped_column(JSON)

    report: Mapped[Report] = relationship(backref=db.backref("review", uselist=False, lazy="select"))
    by: Mapped[Optional[User]] = relationship()

    @staticmethod
    def locks(state: Optional[str], published_lock: Optional[bool]) -> bool:
        """The lock rule: a report approved, or printed in an issued 通报, stays as it is until its
        reviewer sends it back (退回). The one statement of it, for rows and for query results."""
        return state == "approved" or bool(published_lock)

    @property
    def locked(self) -> bool:
        return Review.locks(self.state, self.published_lock)


class HeldEdit(db.Model):
    """What a filer typed into a grid row that could not be saved yet (a cell in error, a correction
    waiting for its 修改原因, a refused correction): kept with its errors, for every browser of the
    account, until the row is saved or the filer discards it (放弃修改)."""
    __table_args__ = (UniqueConstraint("period_id", "region_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    #: the report-level unit of the row
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: the row's cells as typed (text, errors and all), by indicator key
    typed: Mapped[dict] = mapped_column(JSON)
    #: why it was not saved: [[field or None, message], ...]
    errors: Mapped[list] = mapped_column(JSON)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)

    user: Mapped[Optional[User]] = relationship()


class ReviewAction(db.Model):
    """One review step, as it happened: 退回, 审核通过, or 通报锁定. Never changed."""
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), index=True)
    #: return, approve or publish
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    #: the report's revision the step was taken on
    revision: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)

    user: Mapped[Optional[User]] = relationship()


class Webhook(db.Model):
    """A group robot (企业微信群机器人 or 钉钉自定义机器人) that 催报 to a user's unit is posted to."""
    __table_args__ = (UniqueConstraint("user_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    #: wecom or dingtalk
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(500))
    #: 钉钉 加签 secret (SEC…), if the robot requires the signature
    secret: Mapped[str] = mapped_column(String(200), default="")
    #: mobiles to @, comma-separated (by default the user's own phone)
    mobiles: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()


class Reminder(db.Model):
    """One 催报: a reviewer (or the schedule) chasing the units under a region for a period."""
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), index=True)
    #: the region whose children were chased
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    #: sent by the campaign's 自动催报 setting rather than a person
    auto: Mapped[bool] = mapped_column(Boolean, default=False)

    period: Mapped[Period] = relationship()
    region: Mapped[Region] = relationship()
    by: Mapped[Optional[User]] = relationship()
    messages: Mapped[list["ReminderMessage"]] = relationship(back_populates="reminder",
                                                             order_by="ReminderMessage.id")


class ReminderMessage(db.Model):
    """The 催报 text to one unit, as drafted and recorded."""
    # one automatic 催报 per unit and period, however many workers run the schedule (manual ones: NULL)
    __table_args__ = (UniqueConstraint("auto_period_id", "region_id"),
                      UniqueConstraint("auto_period_id", "department_id"),
                      # to a unit of the tree or to a department, never both
                      CheckConstraint("(region_id IS NULL) <> (department_id IS NULL)", name="one_recipient"))
    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminder.id"), index=True)
    #: the unit chased; None for a message to a department
    region_id: Mapped[Optional[int]] = mapped_column(ForeignKey("region.id"), index=True)
    #: the department chased (条线), sitting at the reminder's region
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"), index=True)
    #: report-level units outstanding (未报, draft or 已退回) when it was sent
    outstanding: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    #: the unit's contact as found at sending: {"name": …, "phone": …}
    contact: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the period, for an automatic 催报 only
    auto_period_id: Mapped[Optional[int]] = mapped_column(ForeignKey("period.id"))

    reminder: Mapped[Reminder] = relationship(back_populates="messages")
    region: Mapped[Optional[Region]] = relationship()
    department: Mapped[Optional[Department]] = relationship()
    deliveries: Mapped[list["Delivery"]] = relationship(order_by="Delivery.id")

    @property
    def recipient_name(self) -> str:
        return self.department.name if self.department_id else self.region.name


class Delivery(db.Model):
    """One channel a 催报 message went out on (a group robot), and how that went."""
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("reminder_message.id"), index=True)
    webhook_id: Mapped[Optional[int]] = mapped_column(ForeignKey("webhook.id"))
    #: wecom or dingtalk
    kind: Mapped[str] = mapped_column(String(10))
    #: queued, sent or failed
    outcome: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: the last error (an HTTP status, errcode/errmsg, or a timeout)
    error: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    webhook: Mapped[Optional[Webhook]] = relationship()


class CircularRead(db.Model):
    """That a user has opened an issued 通报 addressed to them."""
    circular_id: Mapped[int] = mapped_column(ForeignKey("circular.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)


class SupervisionItem(db.Model):
    """督办事项: a 约谈 or a 督办单 about one unit or one department for a period, followed to its 销号."""
    __table_args__ = (UniqueConstraint("issuer_region_id", "year", "seq"),
                      # about a unit of the tree or about a department, never both
                      CheckConstraint("(region_id IS NULL) <> (department_id IS NULL)", name="one_subject"))
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"), index=True)
    #: the unit concerned; None for an item about a department
    region_id: Mapped[Optional[int]] = mapped_column(ForeignKey("region.id"), index=True)
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"), index=True)
    #: interview (约谈) or order (督办单)
    kind: Mapped[str] = mapped_column(String(10))
    #: the issuing level: the region of the user who created it; its numbers run per year
    issuer_region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    #: 督办〔year〕seq号
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    #: 督办事项 (the problem), e.g. 连续2期排名末位
    matter: Mapped[str] = mapped_column(Text)
    #: 整改要求
    requirement: Mapped[str] = mapped_column(Text, default="")
    #: 整改时限
    due: Mapped[dt.date] = mapped_column(Date)
    # a 约谈's record: when, where, whom, by whom (what was said goes in `requirement`)
    interview_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    interview_place: Mapped[str] = mapped_column(String(100), default="")
    interviewee: Mapped[str] = mapped_column(String(100), default="")
    interviewer: Mapped[str] = mapped_column(String(100), default="")
    #: open, responded or closed
    status: Mapped[str] = mapped_column(String(10), default="open")
    #: the unit's 完成率 and rank among its siblings when the item was made (None: not ranked)
    then_completion: Mapped[Optional[float]] = mapped_column(Float)
    then_rank: Mapped[Optional[int]] = mapped_column(Integer)
    #: why it was last sent back (退回重新整改)
    reopen_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)
    closed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    period: Mapped[Period] = relationship()
    region: Mapped[Optional[Region]] = relationship(foreign_keys=[region_id])
    department: Mapped[Optional[Department]] = relationship()
    issuer_region: Mapped[Region] = relationship(foreign_keys=[issuer_region_id])
    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])
    closed_by: Mapped[Optional[User]] = relationship(foreign_keys=[closed_by_id])
    responses: Mapped[list["SupervisionResponse"]] = relationship(back_populates="item",
                                                                  order_by="SupervisionResponse.id")

    @property
    def number(self) -> str:
        return f"督办〔{self.year}〕{self.seq}号"

    @property
    def subject_name(self) -> str:
        return self.department.name if self.department_id else self.region.name

    def is_overdue(self, today: dt.date) -> bool:
        """逾期: still open (no 整改报告, or sent back) after its 整改时限."""
        return self.status == "open" and today > self.due


class SupervisionNotice(db.Model):
    """One message about a supervision item to one group robot of its unit: when the item is made, and
    a day before its 整改时限. Once each, however many instances send them."""
    __table_args__ = (UniqueConstraint("item_id", "occasion", "webhook_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("supervision_item.id"), index=True)
    #: created (督办事项已建立) or due_soon (整改时限前一天)
    occasion: Mapped[str] = mapped_column(String(10))
    webhook_id: Mapped[Optional[int]] = mapped_column(ForeignKey("webhook.id", ondelete="SET NULL"))
    #: sent or failed
    outcome: Mapped[str] = mapped_column(String(10), default="failed")
    #: the category of a failure (超时, 连接失败, 地址不允许, 对方拒绝（errcode N）…), never the remote text
    error: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)


class SupervisionResponse(db.Model):
    """整改报告: the unit's answer to a supervision item. Never changed; a new one follows a 退回."""
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("supervision_item.id"), index=True)
    #: what was done
    text: Mapped[str] = mapped_column(Text)
    #: 整改措施
    measures: Mapped[str] = mapped_column(Text, default="")
    #: what it promises: a date or a figure (e.g. 12月15日前完成率达到90%)
    promise: Mapped[str] = mapped_column(String(200), default="")
    by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)

    item: Mapped[SupervisionItem] = relationship(back_populates="responses")
    by: Mapped[Optional[User]] = relationship()
    attachments: Mapped[list["SupervisionAttachment"]] = relationship(back_populates="response",
                                                                      order_by="SupervisionAttachment.id")


class SupervisionAttachment(db.Model):
    """A file (PDF or image) sent with a 整改报告, kept on disk outside the web root under a random name."""
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("supervision_response.id"), index=True)
    #: the name it was uploaded with, shown and offered on download
    filename: Mapped[str] = mapped_column(String(200))
    #: application/pdf, image/png or image/jpeg, from the file's own first bytes
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    #: its name in the attachments folder (random: nothing of the upload reaches the file system)
    stored_as: Mapped[str] = mapped_column(String(64), unique=True)

    response: Mapped[SupervisionResponse] = relationship(back_populates="attachments")
