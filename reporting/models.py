"""The domain's tables: regions, campaigns, periods, targets, reports, users."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Optional

from flask_login import UserMixin
from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, Numeric,
                        String, Text, UniqueConstraint, Index)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import clock, passwords
from .extensions import db

LEVELS = ("province", "city", "county", "township", "village")
LEVEL_NAMES = {"province": "省", "city": "市", "county": "县（市、区）", "township": "乡镇（街道）",
               "village": "村（社区）"}
#: code length of each level in the statistical division codes
CODE_LENGTHS = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
#: number of value columns a report has; a form maps its indicators onto them
VALUE_SLOTS = 12


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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now)

    root: Mapped[Region] = relationship()
    periods: Mapped[list["Period"]] = relationship(back_populates="campaign", order_by="Period.seq",
                                                   cascade="all, delete-orphan")
    indicators: Mapped[list["Indicator"]] = relationship(order_by="Indicator.position",
                                                         cascade="all, delete-orphan")

    @property
    def closes_on(self) -> dt.date:
        """The last day anything may be filed without a city admin."""
        return self.extend_to or self.end

    def interview_rule(self, level: str) -> tuple[int, int]:
        rule = (self.interview_rules or {}).get(level, {})
        return int(rule.get("bottom", 1)), int(rule.get("periods", 2))


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


class HolidayOverride(db.Model):
    """An admin's correction to the official calendar, for years it does not cover yet."""
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True)
    #: True: a working day (调休上班); False: a day off
    workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")


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
    """One region's form for one period (报表)."""
    __table_args__ = (UniqueConstraint("period_id", "region_id"),
                      Index("ix_report_region_period", "region_id", "period_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
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
    region: Mapped[Region] = relationship()
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
        return self.submitted_at is not None and self.submitted_at >= self.period.deadline


class Tally(db.Model):
    """小计: the submitted reports of one unit's report-level children for one period, summed.

    One row per (period, parent of report units), e.g. per township when villages file. It is
    written in the same transaction as the reports it sums (reporting/tally.py), so a roll-up
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


class ProgressVersion(db.Model):
    """The version of a campaign's numbers in one branch: the campaign's root (every write moves
    it) or one child of the root (the writes inside it). Raised in the same transaction as every
    write that moves what a progress answer shows (the tallies, the tasks), so that an answer cached
    at one version is never served at another (reporting/cache.py)."""
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
         "township_filer": "乡镇填报员", "viewer": "查看"}
#: roles that may write reports in their subtree
WRITER_ROLES = {"city_admin", "county_filer", "township_filer"}


class User(UserMixin, db.Model):
    """A signed-in person, bound to one region subtree."""
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    #: one of ROLES
    role: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    #: the person's name, shown as 填表人 by default
    full_name: Mapped[str] = mapped_column(String(50), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: changes at every login, logout and password change, so that older session cookies stop working
    session_nonce: Mapped[str] = mapped_column(String(32), default="")

    region: Mapped[Region] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    def set_password(self, password: str) -> None:
        self.password_hash = passwords.hash_password(password)

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
    __table_args__ = (UniqueConstraint("region_id", "doc_year", "doc_seq"),
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
    #: the sequence of the 发文字号 within the issuing body's year
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

    campaign: Mapped[Campaign] = relationship()
    period: Mapped[Period] = relationship()
    region: Mapped[Region] = relationship()
    issued_by: Mapped[Optional[User]] = relationship(foreign_keys=[issued_by_id])

    @property
    def doc_number(self) -> Optional[str]:
        if self.doc_seq is None:
            return None
        return f"{self.doc_prefix}〔{self.doc_year}〕{self.doc_seq}号"


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

    region: Mapped[Optional[Region]] = relationship()
    user: Mapped[Optional[User]] = relationship()
